"""Short-lived AWS credentials for one notebook server, refreshed before they expire.

Where a scope's environment names an AWS role, the hub assumes it with STS (session name = user + notebook,
session tags = project / environment / user, so CloudTrail and cost reports carry the purpose) and hands the
server the result through the standard ``credential_process`` mechanism:

- a private runtime folder (0700, outside the user's workspace) holds a 0600 JSON file in the
  ``credential_process`` output format, rewritten atomically (temp file + rename) on each refresh; when the
  server runs as another Unix account (paved.scoping.isolation) the folder is 0750 and the files 0640, owned
  by root with a ``group`` only that server holds, so it can read them but not change them;
- a 0600 AWS config file there says ``credential_process = /bin/cat <that file>`` plus the region;
- the server only gets environment variables pointing at the config file (:func:`server_env`), never keys.

boto3/botocore (and the other AWS SDKs, DuckDB's ``credential_chain``) inside the server then re-read the
file by themselves when their copy nears expiry (botocore: 15 minutes before), so the hub only has to keep
the file fresh: :class:`CredentialRefresher` re-assumes the role well before that window.

Secrets never leave this module in a printable form: :class:`Credentials` hides them in ``repr``/``str``,
errors and log lines name the role and session only, and botocore's own DEBUG dump of STS response bodies
is redacted (:class:`RedactCredentialsFilter`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shlex
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping

import boto3
import boto3.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from paved.scoping.scope import Scope

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "aws-credentials.json"
CONFIG_FILE = "aws-config"
DEFAULT_REGION = "us-east-1"
DEFAULT_DURATION_S = 3600
# botocore re-reads credential_process output 15 min before expiry (advisory window) and blocks from 10 min:
# refresh the file before that window opens so running servers never see credentials about to lapse.
REFRESH_MARGIN_S = 20 * 60
RETRY_MIN_S = 5.0
RETRY_MAX_S = 60.0

_TAG_VALUE_BAD = re.compile(r"[^\w .:/=+\-@]")


class CredentialsError(RuntimeError):
    """Credentials could not be obtained; the message names role and session, never a secret."""


@dataclass(frozen=True, eq=False, repr=False)
class Credentials:
    """Temporary AWS credentials. ``repr``/``str`` show only a masked key id and the expiry."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime  # timezone-aware, UTC

    @classmethod
    def from_sts(cls, creds: Mapping) -> "Credentials":
        """From the ``Credentials`` member of an STS AssumeRole response."""
        expiration = creds["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=timezone.utc)
        return cls(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=expiration.astimezone(timezone.utc),
        )

    @property
    def expiration_iso(self) -> str:
        """Expiry as ISO 8601 UTC, truncated to the second (never later than the real expiry)."""
        return self.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")

    def process_output(self) -> dict:
        """The ``credential_process`` output document (what the server's SDK reads)."""
        return {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration_iso,
        }

    def seconds_left(self, now: float | None = None) -> float:
        return self.expiration.timestamp() - (time.time() if now is None else now)

    def __repr__(self) -> str:
        key = self.access_key_id
        masked = f"{key[:4]}…{key[-4:]}" if len(key) > 8 else "…"
        return f"Credentials(access_key_id={masked!r}, expiration={self.expiration_iso!r})"

    __str__ = __repr__

    def __reduce__(self):  # no pickling into caches, state files or the hub DB by accident
        raise TypeError("Credentials are not picklable")


# --- botocore's DEBUG log of response bodies would print STS secrets: redact them at the source -----------

_SECRET_PATTERNS = [
    # XML bodies: <SecretAccessKey>..</SecretAccessKey>, <SessionToken>..</SessionToken>
    (re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(</\2>)"), r"\1***\3"),
    # JSON / dict reprs: "SecretAccessKey": "..", 'SessionToken': '..'
    (re.compile(r"""((?:SecretAccessKey|SessionToken|secret_key|token)["']?\s*[:=]\s*["'])[^"']*(["'])"""), r"\1***\2"),
    # signed requests: X-Amz-Security-Token header or query value, in canonical requests and header dicts
    (re.compile(r"""(x-amz-security-token["']?\s*[:=]\s*(?:b?["'])?)[^"'\s,&}]+""", re.IGNORECASE), r"\1***"),
]
_SECRET_HINTS = ("secretaccesskey", "sessiontoken", "security-token", "secret_key")


class RedactCredentialsFilter(logging.Filter):
    """Replaces secret access keys and session tokens in a log record's message by ``***``.

    Attached to the botocore loggers that dump request/response data at DEBUG level (STS response bodies
    hold the new secret and token; signed requests hold the caller's own session token).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        lowered = message.lower()
        if any(hint in lowered for hint in _SECRET_HINTS):
            for pattern, replacement in _SECRET_PATTERNS:
                message = pattern.sub(replacement, message)
            record.msg, record.args = message, None
        return True


_REDACT = RedactCredentialsFilter()
for _name in (
    "botocore.parsers",
    "botocore.endpoint",
    "botocore.auth",
    "botocore.credentials",
    "botocore.hooks",
    "botocore.httpsession",
    "urllib3.connectionpool",
):
    if _REDACT not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_REDACT)


# --- assuming the role -------------------------------------------------------------------------------------


def _tag_value(value: str) -> str:
    """An STS session-tag value: ≤256 chars of letters, digits, spaces and ``_.:/=+-@``."""
    return _TAG_VALUE_BAD.sub("-", value)[:256]


def assume_role(
    role_arn: str,
    session_name: str,
    tags: Mapping[str, str] | None = None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    duration_s: int = DEFAULT_DURATION_S,
    session: boto3.session.Session | None = None,
    policy: Mapping | None = None,
) -> Credentials:
    """Assume ``role_arn`` as ``session_name`` with session ``tags`` (all transitive); return its credentials.

    ``policy``: an IAM session policy; the credentials may then do only what both the role and it allow
    (data access grants name only their granted S3 prefixes this way, see :mod:`paved.catalog.vending`).

    Uses the hub's own AWS identity (``session``, else the default credential chain). Tags are transitive so
    a role chained from inside the notebook keeps the project attribution and cannot drop it.
    """
    session = session or boto3.session.Session()
    region = region or session.region_name or DEFAULT_REGION
    tags = dict(tags or {})
    params: dict = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": int(duration_s)}
    if tags:
        params["Tags"] = [{"Key": k, "Value": _tag_value(v)} for k, v in tags.items()]
        params["TransitiveTagKeys"] = list(tags)
    if policy is not None:
        params["Policy"] = json.dumps(policy, separators=(",", ":"))
    sts = session.client(
        "sts",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15),
    )
    try:
        response = sts.assume_role(**params)
    except ClientError as e:
        err = e.response.get("Error", {})
        raise CredentialsError(
            f"Could not assume role {role_arn} as {session_name}: "
            f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
        ) from None
    except (BotoCoreError, ValueError) as e:
        raise CredentialsError(f"Could not assume role {role_arn} as {session_name}: {e}") from None
    creds = Credentials.from_sts(response["Credentials"])
    log.info(
        "Assumed %s as %s (tags %s), expires %s",
        role_arn,
        session_name,
        ",".join(f"{k}={v}" for k, v in tags.items()),
        creds.expiration_iso,
    )
    return creds


def assume_project_role(
    scope,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    duration_s: int = DEFAULT_DURATION_S,
    session: boto3.session.Session | None = None,
) -> Credentials:
    """Assume the AWS role of ``scope`` (a :class:`paved.scoping.scope.Scope`) for its user and notebook."""
    if not scope.aws_role_arn:
        raise CredentialsError(
            f"Project {scope.project.name!r} environment {scope.options.environment!r} has no AWS role to assume."
        )
    return assume_role(
        scope.aws_role_arn,
        scope.session_name,
        scope.session_tags,
        endpoint_url=endpoint_url,
        region=region,
        duration_s=duration_s,
        session=session,
    )


# --- handing them to a server ------------------------------------------------------------------------------


def prepare_runtime_dir(path: str | os.PathLike, group: int | None = None) -> Path:
    """Create (or tighten) ``path`` as a private folder: a real directory owned by us, mode 0700; with
    ``group`` (a gid) it belongs to that group, mode 0750 (readers hold the group, only we write)."""
    path = Path(path)
    if not os.path.lexists(path):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise CredentialsError(f"Runtime folder {path} is not a directory.")
    if st.st_uid != os.getuid():
        raise CredentialsError(f"Runtime folder {path} is not owned by this user.")
    if group is not None:
        os.chown(path, -1, group)
    os.chmod(path, 0o700 if group is None else 0o750)
    return path


def _write_private(path: Path, text: str, group: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (readers see the old or the new file, whole);
    with ``group``, group-readable (0640) by that gid."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: 0600
    try:
        if group is not None:  # before the rename, so the file is never visible with other rights
            os.fchown(fd, -1, group)
            os.fchmod(fd, 0o640)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cat() -> str:
    return "/bin/cat" if os.path.exists("/bin/cat") else (shutil.which("cat") or "cat")


def config_text(credentials_path: str | os.PathLike, *, region: str, endpoint_url: str | None = None) -> str:
    """The AWS config file: a default profile whose ``credential_process`` prints ``credentials_path``.

    ``credentials_path`` is the path as the *server* sees it (a Kubernetes backend may mount it elsewhere).
    """
    lines = ["[default]", f"credential_process = {_cat()} {shlex.quote(str(credentials_path))}", f"region = {region}"]
    if endpoint_url:
        lines.append(f"endpoint_url = {endpoint_url}")
    return "\n".join(lines) + "\n"


def server_env(config_path: str | os.PathLike, *, region: str, endpoint_url: str | None = None) -> dict[str, str]:
    """Environment variables that make AWS SDKs in the server use the config file, and nothing else.

    No keys: the SDK gets them from ``credential_process``. The shared credentials file is pointed at
    ``/dev/null`` so a ``~/.aws/credentials`` in the workspace cannot override the project's identity, and
    instance metadata is off so a failing refresh never falls back to the host's role.
    """
    env = {
        "AWS_CONFIG_FILE": str(config_path),
        "AWS_SDK_LOAD_CONFIG": "1",
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PROFILE": "default",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


@dataclass(frozen=True)
class CredentialFiles:
    """Where a server's credentials live: the ``credential_process`` JSON and the AWS config file."""

    runtime_dir: Path

    @property
    def credentials(self) -> Path:
        return self.runtime_dir / CREDENTIALS_FILE

    @property
    def config(self) -> Path:
        return self.runtime_dir / CONFIG_FILE

    def remove(self) -> None:
        for p in (self.credentials, self.config):
            p.unlink(missing_ok=True)


def write_credentials(runtime_dir: str | os.PathLike, creds: Credentials, group: int | None = None) -> Path:
    """(Re)write only the ``credential_process`` JSON in ``runtime_dir`` (atomically, 0600, or 0640 for
    ``group``); return its path."""
    files = CredentialFiles(Path(runtime_dir))
    _write_private(files.credentials, json.dumps(creds.process_output()), group)
    return files.credentials


def write_credential_files(
    runtime_dir: str | os.PathLike,
    creds: Credentials,
    *,
    region: str,
    endpoint_url: str | None = None,
    group: int | None = None,
) -> dict[str, str]:
    """Write the credentials JSON and AWS config into the private ``runtime_dir``; return the server's env.
    ``group``: the gid that may read them (a server running as another account), else only we can."""
    files = CredentialFiles(prepare_runtime_dir(runtime_dir, group))
    write_credentials(files.runtime_dir, creds, group)
    _write_private(files.config, config_text(files.credentials, region=region, endpoint_url=endpoint_url), group)
    return server_env(files.config, region=region, endpoint_url=endpoint_url)


# --- keeping them fresh ------------------------------------------------------------------------------------


def refresh_delay(creds: Credentials, issued_at: float, now: float) -> float:
    """Seconds from ``now`` until ``creds`` (obtained at ``issued_at``) should be replaced.

    At 2/3 of their lifetime or :data:`REFRESH_MARGIN_S` before expiry, whichever comes first; but not
    before half the lifetime, so short-lived credentials (STS minimum: 15 min) are not re-fetched in a loop.
    """
    lifetime = max(0.0, creds.expiration.timestamp() - issued_at)
    at = min(issued_at + lifetime * 2 / 3, creds.expiration.timestamp() - REFRESH_MARGIN_S)
    at = max(at, issued_at + lifetime / 2)
    return max(0.0, at - now)


def retry_delay(creds: Credentials, now: float, failures: int) -> float:
    """After ``failures`` failed refreshes: back off (5 s doubling to 60 s), within a quarter of the time left."""
    backoff = min(RETRY_MAX_S, RETRY_MIN_S * 2 ** max(0, failures - 1))
    return max(1.0, min(backoff, creds.seconds_left(now) / 4))


class CredentialRefresher:
    """Keeps one server's credential files fresh: assume, write, sleep, re-assume, ... until stopped.

    ``source`` is either a :class:`~paved.scoping.scope.Scope` (its role is assumed with
    :func:`assume_project_role` using ``endpoint_url``, ``region``, ``duration_s`` and ``session``) or a
    blocking callable returning :class:`Credentials`. Fetches run in a thread. ``session`` (the hub's
    identity) defaults to a fresh default-chain session per fetch; boto3 sessions are not thread-safe, so
    never share one between refreshers. ``clock`` and ``sleep`` are injectable so tests can run a day of
    refreshes in a moment. ``group``: the gid that may read the files (see :func:`write_credential_files`).
    ``on_write``: awaited after each refresh has rewritten the files, e.g. to copy them where the server reads
    them (a Kubernetes Secret); when it fails the refresh counts as failed and is retried.
    """

    def __init__(
        self,
        source: Scope | Callable[[], Credentials],
        runtime_dir: str | os.PathLike,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        duration_s: int = DEFAULT_DURATION_S,
        session: boto3.session.Session | None = None,
        name: str = "",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable] = asyncio.sleep,
        group: int | None = None,
        on_write: Callable[[], Awaitable] | None = None,
    ):
        self.group = group
        self.on_write = on_write
        self.region = region or (session or boto3.session.Session()).region_name or DEFAULT_REGION
        if callable(source):
            self.fetch: Callable[[], Credentials] = source
        else:
            scope = source
            name = name or scope.session_name

            def fetch() -> Credentials:
                return assume_project_role(
                    scope, endpoint_url=endpoint_url, region=self.region, duration_s=duration_s, session=session
                )

            self.fetch = fetch
        self.files = CredentialFiles(Path(runtime_dir))
        self.endpoint_url = endpoint_url
        self.name = name
        self.clock = clock
        self.sleep = sleep
        self.credentials: Credentials | None = None
        self.issued_at = 0.0
        self.refreshes = 0
        self.failures = 0
        self.env: dict[str, str] = {}
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> dict[str, str]:
        """Fetch credentials, write the files and start refreshing; return the server's env.

        Raises :class:`CredentialsError` if the first fetch fails (nothing is left written then).
        """
        if self.running:
            return self.env
        try:
            creds = await asyncio.to_thread(self.fetch)
            self.issued_at = self.clock()
            self.env = write_credential_files(
                self.files.runtime_dir, creds, region=self.region, endpoint_url=self.endpoint_url, group=self.group
            )
        except BaseException:
            self.files.remove()
            raise
        self.credentials = creds
        self._task = asyncio.create_task(self._run(), name=f"paved-credentials-{self.name}")
        return self.env

    async def refresh(self) -> Credentials:
        """Fetch new credentials now and rewrite the credentials file (the config file does not change)."""
        creds = await asyncio.to_thread(self.fetch)
        self.issued_at = self.clock()
        write_credentials(self.files.runtime_dir, creds, self.group)
        self.credentials = creds
        if self.on_write is not None:
            await self.on_write()
        self.refreshes += 1
        log.info("Refreshed AWS credentials for %s, expire %s", self.name, creds.expiration_iso)
        return creds

    async def _run(self) -> None:
        while True:
            assert self.credentials is not None
            if self.failures:
                delay = retry_delay(self.credentials, self.clock(), self.failures)
            else:
                delay = refresh_delay(self.credentials, self.issued_at, self.clock())
            await self.sleep(delay)
            try:
                await self.refresh()
                self.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep the old file (still valid for a while) and retry soon
                self.failures += 1
                left = self.credentials.seconds_left(self.clock())
                log.warning(
                    "Refreshing AWS credentials for %s failed (%d in a row, current ones expire in %ds): %s",
                    self.name,
                    self.failures,
                    max(0, left),
                    e if isinstance(e, CredentialsError) else type(e).__name__,
                )

    async def stop(self) -> None:
        """Stop refreshing and remove the credential files. Safe to call more than once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("Credential refresher for %s ended with an error", self.name)
        self.files.remove()
        self.credentials = None
