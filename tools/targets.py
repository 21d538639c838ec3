"""Where a start points: the local stack or AWS, chosen explicitly and never mixed.

* **local** (``make airflow``, ``make demo``, the tests): the stack's own connections and variables
  (``tools.stack.env()``, marked ``SPARKIFY_TARGET=local``). Whatever the shell exports — AWS connections,
  a secrets backend, AWS credentials — is not passed on; an exported setting that points at AWS is refused with a
  message that names it, because it means the user meant the other start.
* **aws** (``make airflow AWS_ENV=.local/aws/<prefix>.env``): the settings file ``make aws-up`` writes, and nothing
  of the local stack's. The file names Airflow's secrets backend (AWS Secrets Manager), where the connections and
  variables are; it holds no password. A file that is missing, half-written or points at the local stack is
  refused, naming the file and the key.

Both can print the connections they use, with secrets masked (:func:`describe`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
# Settings a start takes only from its own target: exported ones belong to the other target or to nobody.
TARGET_PREFIXES = ("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__SECRETS__", "SPARKIFY_", "WAREHOUSE_DSN")
# plugins/sparkify/operating.py's settings: how the DAGs behave, not where they run, so every start passes them on.
OPERATING_SETTINGS = ("SPARKIFY_TIMEOUT_", "SPARKIFY_RUN_TIMEOUT", "SPARKIFY_INPUT_WAIT", "SPARKIFY_INPUT_POKE",
                      "SPARKIFY_DEADLINE", "SPARKIFY_WRITER_POOL_SLOTS")  # fmt: skip
AWS_CREDENTIAL_PREFIX = "AWS_"  # the credential chain (keys, profile, region, endpoint): AWS starts only
CONNECTIONS = ("redshift", "aws_default")  # what the DAGs use
VARIABLES = ("sparkify_s3_bucket", "sparkify_work_bucket")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
SECRET_WORDS = ("password", "secret", "token", "key")


class SettingsError(SystemExit):
    """A start refused for its settings: the message names the file (or the shell) and the key."""


def without_targets(environ: Mapping[str, str], keep_aws_credentials: bool) -> dict[str, str]:
    """``environ`` without any target's settings (and without AWS's credential chain unless asked to keep it); the
    operating settings stay."""
    drop = TARGET_PREFIXES + (() if keep_aws_credentials else (AWS_CREDENTIAL_PREFIX,))
    return {k: v for k, v in environ.items() if k.startswith(OPERATING_SETTINGS) or not k.startswith(drop)}


def aws_settings_in(environ: Mapping[str, str]) -> list[str]:
    """The exported settings that point a start at AWS (a sourced settings file, an AWS connection)."""
    found = []
    if environ.get("SPARKIFY_TARGET", "local") != "local":
        found.append(f"SPARKIFY_TARGET={environ['SPARKIFY_TARGET']}")
    found += [k for k in environ if k.startswith("AIRFLOW__SECRETS__")]
    for key in ("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_DEFAULT"):
        value = environ.get(key)
        if value and not any(host in value for host in LOOPBACK):
            found.append(f"{key} (not on 127.0.0.1)")
    return found


def refuse_aws_settings_for_local(environ: Mapping[str, str]) -> None:
    """The local start's guard: a shell that carries AWS settings meant the AWS start."""
    found = aws_settings_in(environ)
    if found:
        raise SettingsError(
            "this starts the local stack, but the shell exports settings for AWS: " + ", ".join(found) + ".\n"
            "  For AWS:   make airflow AWS_ENV=.local/aws/<prefix>.env   (the file make aws-up wrote)\n"
            "  For local: unset them first, e.g. unset " + " ".join(k.split(" ")[0].split("=")[0] for k in found)
        )


def enter_local(local: Mapping[str, str]) -> None:
    """Make this process the local target (``make demo``, ``make report``, seeding): refuse a shell set up for AWS,
    drop every target's settings and the AWS credential chain, and take the local stack's."""
    refuse_aws_settings_for_local(os.environ)
    kept = without_targets(os.environ, keep_aws_credentials=False)
    for key in [k for k in os.environ if k not in kept]:
        del os.environ[key]
    os.environ.update(local)


# ----------------------------------------------------------------------------------------------------------------
# The AWS settings file
# ----------------------------------------------------------------------------------------------------------------
def read_settings_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (shell quoting, ``#`` comments) of a settings file, validated for an AWS start."""
    if not path.is_file():
        raise SettingsError(f"{path}: no such settings file — `make aws-up` writes it (.local/aws/<prefix>.env)")
    settings: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        try:
            words = shlex.split(raw, comments=False)
        except ValueError as exc:
            message = f"{path}:{number}: {key.strip() or line!r} has a value that does not parse ({exc})"
            raise SettingsError(message) from None
        if not sep or not key.strip().isidentifier() or len(words) > 1:
            raise SettingsError(f"{path}:{number}: not a KEY=VALUE line: {line[:60]!r}")
        settings[key.strip()] = words[0] if words else ""
    check_aws_settings(path, settings)
    return settings


def check_aws_settings(path: Path, settings: Mapping[str, str]) -> None:
    target = settings.get("SPARKIFY_TARGET", "")
    if not target:
        raise SettingsError(f"{path}: SPARKIFY_TARGET is missing — not a file `make aws-up` wrote (or cut short)")
    if not target.startswith("aws:"):
        raise SettingsError(f"{path}: SPARKIFY_TARGET={target} — this file is for the local stack, not AWS")
    for key, value in settings.items():
        if any(host in value for host in LOOPBACK):
            raise SettingsError(f"{path}: {key} points at the local stack ({value[:80]}); an AWS start uses AWS only")
        if key.startswith("AIRFLOW_CONN_"):
            raise SettingsError(
                f"{path}: {key} — connections come from Secrets Manager (the secrets backend), not from this file"
            )
    if settings.get("AIRFLOW__SECRETS__BACKEND") != SECRETS_BACKEND:
        raise SettingsError(f"{path}: AIRFLOW__SECRETS__BACKEND must be {SECRETS_BACKEND}")
    raw = settings.get("AIRFLOW__SECRETS__BACKEND_KWARGS", "")
    try:
        kwargs = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path}: AIRFLOW__SECRETS__BACKEND_KWARGS is not JSON ({exc})") from None
    missing = [k for k in ("connections_prefix", "variables_prefix", "region_name") if not kwargs.get(k)]
    if missing:
        raise SettingsError(f"{path}: AIRFLOW__SECRETS__BACKEND_KWARGS lacks {', '.join(missing)}")


def backend_kwargs(settings: Mapping[str, str]) -> dict[str, Any]:
    return json.loads(settings["AIRFLOW__SECRETS__BACKEND_KWARGS"])


# ----------------------------------------------------------------------------------------------------------------
# What a start uses, masked
# ----------------------------------------------------------------------------------------------------------------
def describe(conn_id: str, value: str | None) -> str:
    """One line for a connection (URI or JSON), secrets masked: ``redshift: redshift://user@host:5439/dev …``."""
    if not value:
        return f"{conn_id}: not defined"
    from airflow.sdk.definitions.connection import Connection

    conn = (
        Connection.from_json(value, conn_id=conn_id)
        if value.lstrip().startswith("{")
        else Connection.from_uri(value, conn_id=conn_id)
    )
    where = f"{conn.host or ''}{f':{conn.port}' if conn.port else ''}{f'/{conn.schema}' if conn.schema else ''}"
    login = f"{conn.login}{':***' if conn.password else ''}@" if conn.login else ""
    extra = {k: ("***" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in conn.extra_dejson.items()}
    shown = f"{conn.conn_type}://{login}{where}"
    if extra:
        shown += " " + json.dumps(extra, sort_keys=True)
    if not conn.password:
        shown += "  (no stored password)"
    return f"{conn_id}: {shown}"


def local_lookup(environ: Mapping[str, str]) -> tuple[dict[str, str | None], dict[str, str | None]]:
    conns = {c: environ.get(f"AIRFLOW_CONN_{c.upper()}") for c in CONNECTIONS}
    return conns, {v: environ.get(f"AIRFLOW_VAR_{v.upper()}") for v in VARIABLES}


def aws_lookup(settings: Mapping[str, str]) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The connections and variables as the AWS start's secrets backend returns them (asks Secrets Manager)."""
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend

    backend = SecretsManagerBackend(**backend_kwargs(settings))
    return (
        {c: backend.get_conn_value(c) for c in CONNECTIONS},
        {v: backend.get_variable(v) for v in VARIABLES},
    )


def report(title: str, conns: Mapping[str, str | None], variables: Mapping[str, str | None]) -> str:
    lines = [title]
    lines += [f"  {describe(c, v)}" for c, v in conns.items()]
    lines += [f"  variable {k}: {v if v is not None else 'not defined'}" for k, v in variables.items()]
    return "\n".join(lines)


def require_complete(where: str, conns: Mapping[str, Any], variables: Mapping[str, Any]) -> None:
    missing = [f"connection {c}" for c, v in conns.items() if not v] + [
        f"variable {k}" for k, v in variables.items() if v is None
    ]
    if missing:
        raise SettingsError(f"{where}: {', '.join(missing)} not found — run `make aws-up` again to write them")


def environ_for_aws(settings: Mapping[str, str]) -> dict[str, str]:
    """The process environment of an AWS start: the shell's, minus every target's settings, plus the file's."""
    return {**without_targets(os.environ, keep_aws_credentials=True), **settings}
