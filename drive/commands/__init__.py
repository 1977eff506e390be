"""One module per `drive` subcommand; each exposes ``main(argv, prog, command) -> int``."""
