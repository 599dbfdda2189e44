"""The names that say a file is a script: the prefilter, the script follower and the task
runners' test all read them, and the prefilter imports the task runners' module."""

SHELL_SUFFIXES = (".sh", ".bash", ".bats", ".ksh", ".zsh", ".dash")
PYTHON_SUFFIXES = (".py",)
SCRIPT_SUFFIXES = (*SHELL_SUFFIXES, *PYTHON_SUFFIXES)
