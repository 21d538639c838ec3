"""Source contracts: the shape a source promises, and the shape each staged object turned out to have.

A contract (``include/contracts/<source>.yaml``) declares the fields of a source's records, their JSON types, and
which are **required**. Every declared field is in every record — a key that disappears has been dropped or
renamed, and would load as NULL; a required field also has a value (not null). Fields the contract does not
declare are **unknown**: they load nowhere and are reported (a new optional field is not an error).

While staging, each object's shape is tallied (:class:`ShapeTally`) — on every record where the worker reads the
data (PostgreSQL), on the head and tail of each object where the warehouse reads it (Redshift's COPY). The
tallies are judged against the contract (:func:`judge`): a declared field absent from, or a required field
without a value in, more than ``max_missing_share`` of an object's records fails the stage naming the object,
the field and the share (fewer: a warning); unknown fields and values of the wrong type (rejected lines, which
keep their own ``max_errors`` budget) are warnings. Every judgement is stored in ``source_observations``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from airflow.sdk.exceptions import AirflowFailException

from sparkify.sql import INCLUDE_DIR

CONTRACTS_DIR = INCLUDE_DIR / "contracts"
JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array")
MISSING, DROPPED, UNKNOWN, WRONG_TYPE, CONFORMS = "missing", "dropped", "unknown", "wrong_type", "conforms"
ERROR, WARN, OK = "error", "warn", "ok"


class ContractFileError(AirflowFailException, ValueError):
    """A contract file that is missing or malformed (fails the task at once: retrying will not fix it)."""


class SourceContractBreachError(AirflowFailException):
    """A staged object does not have the shape its source's contract declares."""


@dataclass(frozen=True)
class ContractField:
    name: str
    type: str  # the JSON type the source sends: string, integer, number, boolean, object or array
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class SourceContract:
    """The declared shape of one source's records."""

    name: str
    fields: tuple[ContractField, ...]
    max_missing_share: float = 0.01  # of an object's records that may lack a required field

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.required)


def load_contract(name: str) -> SourceContract:
    """The contract ``include/contracts/<name>.yaml`` (validated; cached per process)."""
    return _load(name)


@cache
def _load(name: str) -> SourceContract:
    path = CONTRACTS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONTRACTS_DIR.glob("*.yaml"))
        raise ContractFileError(f"no source contract {name!r}: {path} does not exist (contracts: {known})")
    try:
        doc = yaml.safe_load(path.read_text())
        return parse_contract(doc, name)
    except (yaml.YAMLError, ValueError, TypeError, KeyError) as exc:
        raise ContractFileError(f"{path}: {exc}") from None


def parse_contract(doc: Mapping[str, Any], name: str) -> SourceContract:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("fields"), Mapping) or not doc["fields"]:
        raise ValueError("a contract is a mapping with a non-empty 'fields' mapping")
    unknown_keys = set(doc) - {"name", "description", "max_missing_share", "fields"}
    if unknown_keys:
        raise ValueError(f"unknown keys {sorted(unknown_keys)}")
    fields = []
    for field_name, spec in doc["fields"].items():
        spec = spec or {}
        if set(spec) - {"type", "required", "description"}:
            raise ValueError(
                f"field {field_name}: unknown keys {sorted(set(spec) - {'type', 'required', 'description'})}"
            )
        if spec.get("type") not in JSON_TYPES:
            raise ValueError(f"field {field_name}: type must be one of {JSON_TYPES}, got {spec.get('type')!r}")
        if not isinstance(spec.get("required", False), bool):
            raise ValueError(f"field {field_name}: required must be true or false")
        fields.append(
            ContractField(str(field_name), spec["type"], spec.get("required", False), spec.get("description", ""))
        )
    share = doc.get("max_missing_share", 0.01)
    if not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise ValueError(f"max_missing_share must be a share in [0, 1), got {share!r}")
    if doc.get("name", name) != name:
        raise ValueError(f"the file declares name {doc['name']!r}; it must match its file name {name!r}")
    return SourceContract(name, tuple(fields), float(share))


# --------------------------------------------------------------------------------------------------------------
# Tallies: what the records of one object carried
# --------------------------------------------------------------------------------------------------------------
@dataclass
class ShapeTally:
    """The shape of one unit's records: an object (JSON lines), or a location's objects (one document each).

    ``carried[f]``: records in which field ``f`` was present (its key, with a value or null). ``missing[f]``:
    records without a value for required field ``f`` (absent or null). ``wrong_type[c]``: values of column ``c``
    rejected as not of its type.
    """

    records: int = 0
    carried: Counter = field(default_factory=Counter)
    missing: Counter = field(default_factory=Counter)
    wrong_type: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # field → an object that showed the finding
    sampled: bool = False  # True when only part of the records were read (Redshift: head and tail)

    def merge(self, other: ShapeTally) -> None:
        self.records += other.records
        self.carried.update(other.carried)
        self.missing.update(other.missing)
        self.wrong_type.update(other.wrong_type)
        for name, key in other.examples.items():
            self.examples.setdefault(name, key)
        self.sampled |= other.sampled


class DocumentTally:
    """Tallies parsed records (dicts) one at a time — the exact path's bookkeeping, kept cheap: shapes by key tuple."""

    def __init__(self, contract: SourceContract) -> None:
        self.required = contract.required
        self.declared = contract.names
        self.shapes: Counter = Counter()
        self.missing: Counter = Counter()
        self.wrong_type: Counter = Counter()
        self.examples: dict[str, str] = {}

    def add(self, doc: dict, key: str) -> None:
        shape = tuple(doc)
        self.shapes[shape] += 1
        for name in self.required:
            if doc.get(name) is None:
                self.missing[name] += 1
                self.examples.setdefault(name, key)
        if len(self.examples) < 64 and not self.declared.issuperset(shape):
            for name in shape:
                if name not in self.declared:
                    self.examples.setdefault(name, key)

    def tally(self) -> ShapeTally:
        out = ShapeTally(
            sum(self.shapes.values()), missing=self.missing, wrong_type=self.wrong_type, examples=self.examples
        )
        for shape, n in self.shapes.items():
            for name in shape:
                out.carried[name] += n
        return out


class ShapeLedger:
    """The tallies of one stage, per unit, filled by the engine as it reads (thread-safe), kept after a failure."""

    def __init__(self, contract: SourceContract) -> None:
        self.contract = contract
        self.units: dict[str, ShapeTally] = {}
        self._lock = threading.Lock()

    def add(self, unit: str, tally: ShapeTally) -> None:
        with self._lock:
            self.units.setdefault(unit, ShapeTally()).merge(tally)

    def add_rejected(self, unit: str, columns: Iterable[str | None]) -> None:
        with self._lock:
            self.units.setdefault(unit, ShapeTally()).wrong_type.update(c for c in columns if c)


# --------------------------------------------------------------------------------------------------------------
# Judgement
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    unit: str  # the object (or location) the records came from
    records: int
    field: str | None
    kind: str  # conforms, missing, dropped, unknown, wrong_type
    affected: int
    severity: str  # ok, warn, error
    example: str | None = None
    sampled: bool = False

    @property
    def share(self) -> float:
        return self.affected / self.records if self.records else 0.0

    def describe(self) -> str:
        share = f"{self.share:.1%} of {self.records:,} records"
        if self.kind == MISSING:
            return f"required field {self.field} missing in {share}"
        if self.kind == DROPPED:
            return f"field {self.field} absent from {share} (dropped or renamed?)"
        if self.kind == UNKNOWN:
            return f"unknown field {self.field} in {share}"
        if self.kind == WRONG_TYPE:
            return f"column {self.field}: {self.affected:,} values of the wrong type rejected"
        return f"{self.records:,} records conform"

    @property
    def breaks(self) -> bool:
        return self.severity == ERROR


def judge(contract: SourceContract, unit: str, tally: ShapeTally) -> list[Finding]:
    """What ``tally`` shows against ``contract``: errors, warnings, or one ``conforms``."""
    found: list[Finding] = []

    def add(name: str | None, kind: str, affected: int, severity: str) -> None:
        found.append(
            Finding(unit, tally.records, name, kind, affected, severity, tally.examples.get(name or ""), tally.sampled)
        )

    if tally.records:
        for name in contract.required:
            missing = tally.missing.get(name, 0)
            if missing:
                add(name, MISSING, missing, ERROR if missing / tally.records > contract.max_missing_share else WARN)
        for name in contract.optional:
            absent = tally.records - tally.carried.get(name, 0)
            if absent:
                add(name, DROPPED, absent, ERROR if absent / tally.records > contract.max_missing_share else WARN)
        for name in sorted(set(tally.carried) - contract.names):
            add(name, UNKNOWN, tally.carried[name], WARN)
    for column, n in sorted(tally.wrong_type.items()):
        add(column, WRONG_TYPE, n, WARN)
    if not found:
        add(None, CONFORMS, 0, OK)
    return found


def judge_ledger(ledger: ShapeLedger) -> list[Finding]:
    """Every unit's findings, in the order the units were read."""
    return [f for unit, tally in ledger.units.items() for f in judge(ledger.contract, unit, tally)]


def observed_schema(ledger: ShapeLedger) -> list[tuple[str, str, str]]:
    """``(field, type, description)`` of the fields the stage saw — for OpenLineage's schema facet."""
    carried: Counter = Counter()
    records = 0
    for tally in ledger.units.values():
        carried.update(tally.carried)
        records += tally.records
    fields = [
        (f.name, f.type, f.description or ("required" if f.required else "optional"))
        for f in ledger.contract.fields
        if carried.get(f.name)
    ]
    fields += [
        (name, "unknown", f"not in the {ledger.contract.name} contract: in {n:,} of {records:,} records")
        for name, n in sorted(carried.items())
        if name not in ledger.contract.names
    ]
    return fields


def breach_message(contract: SourceContract, findings: list[Finding], uri: Any) -> str:
    """The failure message: each object that broke the contract, with the fields and shares, and what to do."""
    errors = [f for f in findings if f.severity == ERROR]
    by_unit: dict[str, list[Finding]] = {}
    for f in findings:
        if f.severity != OK and any(e.unit == f.unit for e in errors):
            by_unit.setdefault(f.unit, []).append(f)
    parts = []
    for unit, unit_findings in list(by_unit.items())[:5]:
        details = "; ".join(
            f.describe() + (f" (e.g. {uri(f.example)})" if f.example and f.example != unit else "")
            for f in unit_findings[:8]
        )
        parts.append(f"{uri(unit)}: {details}")
    more = f" … and {len(by_unit) - 5} more objects" if len(by_unit) > 5 else ""
    return (
        f"source contract {contract.name} broken (tolerance for a missing required field: "
        f"{contract.max_missing_share:.0%} of an object's records) — "
        + " | ".join(parts)
        + more
        + f". Fix the source, or declare the new shape in include/contracts/{contract.name}.yaml"
    )


# --------------------------------------------------------------------------------------------------------------
# Sampling, where the warehouse reads the objects itself (Redshift's COPY)
# --------------------------------------------------------------------------------------------------------------
def sample_shapes(
    source: Any,
    objects: list[Any],
    ledger: ShapeLedger,
    unit_of: Any,
    *,
    lines: bool,
    sample_bytes: int,
    max_documents: int,
    workers: int = 8,
) -> int:
    """Tally the shape of ``objects`` from what the worker reads of them; return the bytes read.

    JSON lines: the first and the last ``sample_bytes`` of each object (whole lines only), so a shape that
    changes part-way through a day's file and stays changed is seen; smaller objects whole. One document per
    object: up to ``max_documents`` objects, whole.
    """
    from sparkify.ingest.pumps import prefetch
    from sparkify.ingest.records import RejectedLine, load

    def fetch(obj: Any) -> list[bytes]:
        if not lines:
            return [source.read(obj.key)]
        if obj.size <= 2 * sample_bytes:
            return source.read(obj.key).split(b"\n")
        head = source.read_range(obj.key, f"bytes=0-{sample_bytes - 1}")
        tail = source.read_range(obj.key, f"bytes=-{sample_bytes}")
        return head[: head.rfind(b"\n")].split(b"\n") + tail[tail.find(b"\n") + 1 :].split(b"\n")

    chosen = objects if lines else objects[:max_documents]
    read = 0
    for obj, texts in prefetch(chosen, fetch, workers, workers * 4):
        tally = DocumentTally(ledger.contract)
        for text in texts:
            read += len(text) + 1
            if not text.strip():
                continue
            try:
                doc = load(text)
            except RejectedLine:
                continue  # the warehouse rejects or refuses it; its shape is not the question
            if type(doc) is dict:
                tally.add(doc, obj.key)
        shape = tally.tally()
        shape.sampled = (lines and obj.size > 2 * sample_bytes) or len(chosen) < len(objects)
        ledger.add(unit_of(obj), shape)
    return read
