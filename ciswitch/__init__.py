"""ciswitch: move werf GitLab CI projects from :local to remote stages storage."""

__version__ = "0.1.0"
