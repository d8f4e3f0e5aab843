from presgend.fronts.cli import main

raise SystemExit(main())
