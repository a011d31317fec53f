"""Every IAM policy document a recording holds, audited with parliament.

parliament carries AWS's IAM action, resource-type and condition-key database, so it judges
what reading cannot: an action that does not exist, a resource ARN of the wrong type for an
action, a condition key an action never sets. Documents are found generically (any input that
is a JSON object with a `Statement`), so a resource added later is audited without a change
here. Each kind is audited for what parliament can judge of it:

- identity policies (role/user/group inline, managed): everything below, plus resource types
  and condition keys per action;
- trust policies: actions, principals, conditions (no resources: a trust policy has none);
- resource policies (key, bucket, topic, queue, log resource policies...): actions, principals,
  condition operators and value types, malformed statements.

A finding AWS's own documentation contradicts is allowed only through REVIEWED, each entry
with the page that shows the documented form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from offline.model import Recording, plain

IDENTITY, TRUST, RESOURCE = "identity", "trust", "resource"

# Resource types whose policy documents are identity-based (attached to a principal).
IDENTITY_TYPES = {
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:iam/role:Role",  # inlinePolicies[].policy; its assumeRolePolicy is the trust policy
}
# Documents with a `Statement` that are not IAM policies: their own grammar, not IAM's.
NOT_IAM = {
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/mask-sensitive-log-data-start.html
    "aws:cloudwatch/logDataProtectionPolicy:LogDataProtectionPolicy",
    "aws:cloudwatch/logAccountPolicy:LogAccountPolicy",
}

_FORM = {
    "MALFORMED",
    "MALFORMED_JSON",
    "NO_VERSION",
    "INVALID_VERSION",
    "OLD_VERSION",
    "INVALID_SID",
    "DUPLICATE_SID",
    "EXCEPTION",
}
_ACTIONS = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX"}
_PRINCIPALS = {"UNKNOWN_PRINCIPAL", "UNKNOWN_FEDERATION_SOURCE"}
_OPERATORS = {"UNKNOWN_OPERATOR", "MISMATCHED_TYPE", "MISMATCHED_TYPE_OPERATION_TO_NULL"}
# What parliament can judge of each kind. Left out everywhere: RESOURCE_STAR and
# RESOURCE_EFFECTIVELY_STAR (breadth is reviewed by the project's own trust and grant tests;
# key policies must say "*"), MISMATCHED_TYPE_BUT_USABLE (AWS accepts it).
AUDITED: dict[str, set[str]] = {
    IDENTITY: _FORM
    | _ACTIONS
    | _OPERATORS
    | {"RESOURCE_MISMATCH", "UNKNOWN_CONDITION_FOR_ACTION", "INVALID_ARN", "BAD_PATTERN_FOR_MFA"},
    TRUST: _FORM | _ACTIONS | _PRINCIPALS | _OPERATORS | {"UNKNOWN_CONDITION_FOR_ACTION"},
    RESOURCE: _FORM | _ACTIONS | _PRINCIPALS | _OPERATORS,
}
# A role's trust policy never names a resource (IAM refuses one: "Has prohibited field
# Resource"), but parliament stops at a statement without one before it looks at actions or
# conditions: it is shown the trust statement with the role itself (`*`) as the resource.
# "principal_block ... is required in resource-based policies ... and in trust policies for
# IAM roles. It must not be included in identity-based policies."
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
GRAMMAR_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class Document:
    """One policy document: where it is (URN and input path), its kind and its text."""

    urn: str
    path: str
    kind: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.urn} {self.path}"


@dataclass(frozen=True)
class Reviewed:
    """A parliament finding that AWS's documentation contradicts, in the documented form."""

    issue: str
    applies: Callable[[str, dict[str, Any]], bool]  # (finding detail, statement)
    url: str
    why: str


def _arn_operator_keys(statement: dict[str, Any]) -> set[str]:
    conditions = statement.get("Condition") or {}
    return {
        key
        for operator, block in conditions.items()
        if operator.removesuffix("IfExists").startswith("Arn")
        for key in block
    }


REVIEWED: tuple[Reviewed, ...] = (
    Reviewed(
        "MISMATCHED_TYPE",
        lambda detail, _: (
            re.fullmatch(
                r"Type mismatch: \S+ requires a value of type Numeric but given \['\d+(\.\d+)?'\]",
                detail,
            )
            is not None
        ),
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Numeric",
        'AWS\'s own examples quote numbers under Numeric* operators (s3:max-keys "10", '
        's3:TlsVersion "1.2"); parliament wants them unquoted. Only a quoted number passes.',
    ),
    Reviewed(
        "MISMATCHED_TYPE",
        lambda detail, stmt: (
            detail == "Type mismatch: ArnLike requires a value of type Arn but given String"
            and _arn_operator_keys(stmt) == {"kms:EncryptionContext:aws:logs:arn"}
        ),
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
        "CloudWatch Logs documents an Arn operator on the encryption-context key "
        "kms:EncryptionContext:aws:logs:arn, which parliament types as a string.",
    ),
)


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield ".".join(path), value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, str(i)))


def _policy(text: str) -> dict[str, Any] | None:
    if '"Statement"' not in text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return {"unparsable": text}  # audited: parliament reports it as malformed JSON
    return doc if isinstance(doc, dict) and "Statement" in doc else None


def kind_of(resource_type: str, path: str) -> str:
    if path == "assumeRolePolicy":
        return TRUST
    return IDENTITY if resource_type in IDENTITY_TYPES else RESOURCE


def documents(rec: Recording) -> list[Document]:
    """Every IAM policy document in the recording's inputs, with its kind."""
    found = []
    for r in rec:
        if r.type in NOT_IAM:
            continue
        for path, text in _strings(plain(r.inputs), ()):
            if _policy(text) is not None:
                found.append(Document(r.urn, path, kind_of(r.type, path), text))
    return found


def _grammar(kind: str, statement: dict[str, Any]) -> list[str]:
    """What IAM's policy grammar refuses per kind and parliament does not check."""
    problems = []
    has_principal = "Principal" in statement or "NotPrincipal" in statement
    if kind == IDENTITY and has_principal:
        problems.append(f"an identity policy must not name a Principal ({GRAMMAR_URL})")
    if kind != IDENTITY and not has_principal:
        problems.append(f"a {kind} policy needs a Principal ({GRAMMAR_URL})")
    if kind == TRUST and ("Resource" in statement or "NotResource" in statement):
        problems.append("a trust policy must not name a Resource (IAM: prohibited field)")
    principal = statement.get("Principal")
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    for service in [services] if isinstance(services, str) else services:
        if not _SERVICE_PRINCIPAL.match(str(service)):
            problems.append(f"service principal {service!r} is not <name>.amazonaws.com")
    return problems


def _parliament(text: str) -> list[Any]:
    import parliament  # imported on first use: it loads AWS's whole IAM database

    return parliament.analyze_policy_string(text, ignore_private_auditors=True).findings


def _reviewed(issue: str, detail: str, statement: dict[str, Any]) -> bool:
    return any(r.issue == issue and r.applies(detail, statement) for r in REVIEWED)


def audit(doc: Document) -> list[str]:
    """The findings left after the reviewed list, each naming the URN, path and statement."""
    parsed = _policy(doc.text)
    if parsed is None or "unparsable" in parsed:
        return [f"{doc.where}: not a JSON policy document"]
    statements = parsed["Statement"]
    statements = [statements] if isinstance(statements, dict) else statements
    problems = []
    sids = [s.get("Sid") for s in statements if isinstance(s, dict) and s.get("Sid")]
    problems += [
        f"{doc.where}: duplicate Sid {sid!r}" for sid in {s for s in sids if sids.count(s) > 1}
    ]
    envelope = {k: v for k, v in parsed.items() if k != "Statement"}
    for i, statement in enumerate(statements):
        where = f"{doc.where} Statement[{i}]"
        if not isinstance(statement, dict):
            problems.append(f"{where}: not an object")
            continue
        if statement.get("Sid"):
            where += f" ({statement['Sid']})"
        problems += [f"{where}: {p}" for p in _grammar(doc.kind, statement)]
        shown = statement
        if doc.kind == TRUST and "Resource" not in statement:
            shown = {**statement, "Resource": "*"}
        for finding in _parliament(json.dumps({**envelope, "Statement": [shown]})):
            detail = str(finding.detail)
            if finding.issue not in AUDITED[doc.kind] or finding.issue == "DUPLICATE_SID":
                continue
            if not _reviewed(finding.issue, detail, statement):
                problems.append(f"{where}: {finding.issue} {detail}")
    return problems


def audit_recording(rec: Recording) -> list[str]:
    return [problem for doc in documents(rec) for problem in audit(doc)]
