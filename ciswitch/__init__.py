"""ciswitch: move werf GitLab CI projects from :local to remote stages storage."""

from ciswitch.ruamel_c import defer_package

__version__ = "0.1.0"

defer_package()  # ruamel.yaml's API loads only when used (see ciswitch.ruamel_c)
