"""The shared-folder backend: a daemon claims an input by renaming it into its own claim
folder (`claims`), and `service` admits claims as the load allows."""
