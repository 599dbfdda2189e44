"""Hide credentials before anything reaches a terminal, a log or a merge request.

Remote URLs of CI fleets routinely carry tokens (``https://oauth2:glpat-...@gitlab/...``), and git
repeats those URLs in its error messages. Every message of the git layer passes through
:func:`redact`, which keeps the scheme, host and path (what a reader needs to know which remote
failed) and replaces the user-info part and token-like query values with ``***``.
"""

from __future__ import annotations

import re

MASK = "***"

#: ``scheme://userinfo@`` inside free text. The user-info may itself contain ``@`` (git accepts
#: unencoded ones in passwords), so it runs up to the last ``@`` before the host's end.
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<userinfo>[^\s/?#'\"<>`]*)@"
    r"(?=[^\s@/?#'\"<>`]*(?:[/?#:\s'\"<>`]|$))"
)

#: ``scheme://user:password@host`` whose password holds characters that must have been
#: percent-encoded (``/``, ``?``, ``#``): the password runs to the last ``@`` that a host name
#: follows. Such a URL is malformed, yet it is what people paste, and its secret must not show.
_LOOSE_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<user>[^\s:/?#@'\"<>`]*):[^\s'\"<>`]*@"
    r"(?=[A-Za-z0-9.\-]+(?:[:/?#\s'\"<>`]|$))"
)

#: query parameters that carry secrets (``?private_token=...``, ``&access_token=...``)
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:[A-Za-z0-9_\-]*(?:token|secret|password|passwd|pwd|key|auth)"
    r"[A-Za-z0-9_\-]*)=)(?P<value>[^\s&#;'\"<>`]+)",
    re.IGNORECASE,
)

#: GitLab and GitHub token formats that may appear outside URLs (``Authorization`` echoes,
#: copied command lines)
_BARE_TOKENS = re.compile(
    r"\b(?:glpat|gldt|glrt|glptt|glft|glsoat|gloas|ghp|gho|ghu|ghs|ghr|github_pat)"
    r"[-_][A-Za-z0-9_\-]{8,}"
)

#: schemes whose bare user name is an account name, not a secret (``ssh://git@host``)
_SSH_SCHEMES = {"ssh://", "git+ssh://", "ssh+git://"}


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    userinfo = match.group("userinfo")
    if scheme.lower() in _SSH_SCHEMES and ":" not in userinfo:
        return match.group(0)
    return f"{scheme}{MASK}@"


def redact(text: str) -> str:
    """Return ``text`` with credentials in URLs and known token formats replaced by ``***``.

    ``https://oauth2:glpat-x@host/g/p.git`` becomes ``https://***@host/g/p.git``; a token used
    as the user name (``https://TOKEN@host``) is hidden the same way because it cannot be told
    apart from a user name. ``ssh://git@host`` and ``git@host:path`` stay as they are.
    """
    text = _LOOSE_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _BARE_TOKENS.sub(MASK, text)
