from presgend.cli import main

raise SystemExit(main())
