"""The technician side of the daemon: the admin socket, its operations and the CLI."""
