"""A citizen's, a clerk's, an approver's and an auditor's flow through the
Python client generated from /api/v1/openapi.json (.ci/clients,
docs/api-clients.md). Every answer, errors, downloads and exports included,
must parse into the type the document gives it: a call whose answer the client
cannot type fails here. Checked with `mypy --strict`.

Usage: python flow.py BASE_URL (a server with the demo data of the local profile).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import sys
import uuid
from typing import Any, TypeVar

import httpx

from motcua_client import AuthenticatedClient, Client
from motcua_client.api.audit import audit_export, audit_list
from motcua_client.api.auth import auth_login
from motcua_client.api.dossiers import (
    dossiers_act,
    dossiers_create,
    dossiers_download,
    dossiers_events,
    dossiers_get,
    dossiers_upload,
)
from motcua_client.api.payments import payments_callback, payments_create
from motcua_client.api.repository import repository_list
from motcua_client.api.results import (
    results_collect,
    results_download,
    results_draft,
    results_verify_number,
)
from motcua_client.api.statistics import (
    statistics_dossiers_csv,
    statistics_dossiers_xlsx,
    statistics_stats_csv,
    statistics_stats_json,
    statistics_stats_xlsx,
)
from motcua_client.api.units import units_list
from motcua_client.models import (
    ActionApprove,
    ActionApproveAction,
    ActionClaim,
    ActionClaimAction,
    ActionReceive,
    ActionReceiveAction,
    ActionSubmitForApproval,
    ActionSubmitForApprovalAction,
    CallbackAck,
    CallbackResult,
    CreatePayment,
    Digitization,
    DossierView,
    Draft,
    DraftForm,
    EventView,
    FileDossier,
    FileDossierForm,
    LoginRequest,
    PageAuditEntry,
    PageDocumentView,
    PageUnitView,
    PaymentChannel,
    PaymentStatus,
    PaymentView,
    Problem,
    ProblemCode,
    Reported,
    ResultStatus,
    Statistics,
    Status,
    TokenResponse,
    UploadForm,
    Verification,
)
from motcua_client.types import File, Response

PASSWORD = "motcua-demo-2025"
# The demo payment provider of the local profile (config/local.toml).
PROVIDER, PROVIDER_SECRET = "demo", "insecure-demo-provider-secret"
HOUSEHOLD_BUSINESS = "1.001612"  # district level, a fee of 100,000 VND
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

T = TypeVar("T")
calls = 0


def parsed(response: Response[Any], expected: type[T], status: int) -> T:
    """The answer's body as `expected`: the status and the type must match."""
    global calls
    calls += 1
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert "x-request-id" in response.headers
    body = response.parsed
    assert isinstance(body, expected), f"{type(body).__name__} is not {expected.__name__}"
    return body


def problem(response: Response[Any], status: int, code: ProblemCode) -> Problem:
    """The answer is the documented problem, typed."""
    body = parsed(response, Problem, status)
    assert body.code == code, (body.code, body.detail)
    assert response.headers["content-type"] == "application/problem+json"
    return body


def downloaded(response: Response[File | Problem], starts: bytes) -> bytes:
    content = parsed(response, File, 200).payload.read()
    assert content.startswith(starts), content[:20]
    assert "attachment" in response.headers["content-disposition"]
    return content


def sign(request: httpx.Request) -> None:
    """What a payment provider does: sign the exact bytes it sends."""
    if request.url.path.startswith("/api/v1/payments/callback/"):
        mac = hmac.new(PROVIDER_SECRET.encode(), request.read(), hashlib.sha256)
        request.headers["X-Signature"] = mac.hexdigest()


def main(base_url: str) -> None:
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)

    def login(who: str) -> AuthenticatedClient:
        body = LoginRequest(email=f"{who}@motcua.local", password=PASSWORD)
        tokens = parsed(auth_login.sync_detailed(client=anonymous, body=body), TokenResponse, 200)
        return AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)

    wrong = LoginRequest(email="citizen@motcua.local", password="not the password")
    problem(auth_login.sync_detailed(client=anonymous, body=wrong), 401, ProblemCode.INVALID_CREDENTIALS)
    citizen, clerk, specialist, approver, auditor = (
        login(who) for who in ["citizen", "clerk", "specialist", "approver", "auditor"]
    )
    stranger = AuthenticatedClient(base_url=base_url, token="not-a-token", raise_on_unexpected_status=True)

    # Reference data, lists and their documented errors.
    units = parsed(units_list.sync_detailed(client=anonymous, q="193"), PageUnitView, 200)
    district = units.items[0]
    assert district.code == "193"
    problem(units_list.sync_detailed(client=anonymous, limit=0), 422, ProblemCode.VALIDATION_FAILED)
    problem(repository_list.sync_detailed(client=stranger), 401, ProblemCode.INVALID_TOKEN)

    # The citizen files online and adds a document.
    filing = FileDossier(
        procedure_code=HOUSEHOLD_BUSINESS,
        unit_id=district.id,
        form=FileDossierForm.from_dict({"ten_ho_kinh_doanh": "Quán Phở Hạ Long"}),
    )
    key = str(uuid.uuid4())
    created = dossiers_create.sync_detailed(client=citizen, body=filing, idempotency_key=key)
    dossier = parsed(created, DossierView, 201)
    assert created.headers["etag"] == f'"{dossier.version}"'
    again = parsed(dossiers_create.sync_detailed(client=citizen, body=filing, idempotency_key=key), DossierView, 201)
    assert again.id == dossier.id, "a retried filing finds the dossier it made"
    form = UploadForm(file=File(payload=io.BytesIO(PDF), file_name="don.pdf", mime_type="application/pdf"))
    component = dossier.components[0].id
    dossier = parsed(dossiers_upload.sync_detailed(dossier.id, component, client=citizen, body=form), DossierView, 201)
    assert dossier.components[0].digitization == Digitization.ELECTRONIC_ORIGINAL
    upload = dossier.components[0].files[0]
    document = dossiers_download.sync_detailed(dossier.id, upload.id, client=clerk)
    assert downloaded(document, b"%PDF") == PDF

    # The desk receives it; If-Match takes the bare version or the ETag.
    stale = ActionReceive(action=ActionReceiveAction.RECEIVE)
    answer = dossiers_act.sync_detailed(dossier.id, client=clerk, body=stale, if_match=str(dossier.version + 7))
    problem(answer, 412, ProblemCode.PRECONDITION_FAILED)
    receive = dossiers_act.sync_detailed(dossier.id, client=clerk, body=stale, if_match=str(dossier.version))
    dossier = parsed(receive, DossierView, 200)
    assert dossier.status == Status.RECEIVED and dossier.due_at is not None
    problem(dossiers_act.sync_detailed(dossier.id, client=clerk, body=stale), 409, ProblemCode.ILLEGAL_ACTION)

    # A specialist claims it and drafts the result; the approver signs it.
    claim = ActionClaim(action=ActionClaimAction.CLAIM)
    parsed(dossiers_act.sync_detailed(dossier.id, client=specialist, body=claim), DossierView, 200)
    draft = DraftForm(file=File(payload=io.BytesIO(PDF), file_name="giay-chung-nhan.pdf"))
    parsed(results_draft.sync_detailed(dossier.id, client=specialist, body=draft), Draft, 201)
    submit = ActionSubmitForApproval(action=ActionSubmitForApprovalAction.SUBMIT_FOR_APPROVAL)
    parsed(dossiers_act.sync_detailed(dossier.id, client=specialist, body=submit), DossierView, 200)
    approve = ActionApprove(action=ActionApproveAction.APPROVE)
    dossier = parsed(dossiers_act.sync_detailed(dossier.id, client=approver, body=approve), DossierView, 200)
    assert dossier.status == Status.RESULT_READY and dossier.national_status == 6

    # The result waits for the fee: the citizen pays online, the provider reports.
    problem(results_download.sync_detailed(dossier.id, client=citizen), 409, ProblemCode.FEE_UNPAID)
    problem(results_collect.sync_detailed(dossier.id, client=citizen), 409, ProblemCode.FEE_UNPAID)
    order = CreatePayment(channel=PaymentChannel.ONLINE, provider=PROVIDER)
    pending = parsed(payments_create.sync_detailed(dossier.id, client=citizen, body=order), PaymentView, 201)
    assert pending.status == PaymentStatus.PENDING and isinstance(pending.checkout_url, str)
    again_pending = parsed(payments_create.sync_detailed(dossier.id, client=citizen, body=order), PaymentView, 200)
    assert again_pending.id == pending.id, "one pending payment per dossier"
    provider = Client(base_url=base_url, raise_on_unexpected_status=True, httpx_args={"event_hooks": {"request": [sign]}})
    report = CallbackResult(
        payment_id=pending.id,
        dossier_code=dossier.code,
        provider_ref=f"demo-{uuid.uuid4()}",
        amount_vnd=dossier.fee_vnd,
        status=Reported.PAID,
    )
    ack = payments_callback.sync_detailed(PROVIDER, client=provider, body=report, x_signature="signed by the hook")
    assert parsed(ack, CallbackAck, 200).status == PaymentStatus.PAID
    forged = payments_callback.sync_detailed(PROVIDER, client=anonymous, body=report, x_signature="00")
    problem(forged, 401, ProblemCode.INVALID_SIGNATURE)

    # Paid: the citizen downloads the signed result (a read), then collects it.
    result = results_download.sync_detailed(dossier.id, client=citizen)
    assert downloaded(result, b"%PDF") == PDF
    number = result.headers["x-result-number"]
    dossier = parsed(dossiers_get.sync_detailed(dossier.id, client=citizen), DossierView, 200)
    assert dossier.status == Status.RESULT_READY, "downloading changes nothing"
    collected = parsed(results_collect.sync_detailed(dossier.id, client=citizen), DossierView, 200)
    assert collected.status == Status.RETURNED and collected.national_status == 10
    retried = parsed(results_collect.sync_detailed(dossier.id, client=citizen), DossierView, 200)
    assert retried.version == collected.version, "collecting again changes nothing"
    verification = parsed(results_verify_number.sync_detailed(number, client=anonymous), Verification, 200)
    assert verification.status == ResultStatus.VALID and verification.signature_valid
    events = dossiers_events.sync_detailed(dossier.id, client=citizen)
    assert events.status_code == 200 and isinstance(events.parsed, list)
    history = events.parsed
    assert all(isinstance(e, EventView) for e in history)
    assert [e.to_status for e in history][-1] == Status.RETURNED
    documents = parsed(repository_list.sync_detailed(client=citizen), PageDocumentView, 200)
    assert any(d.result_number == number for d in documents.items)

    # The auditor's figures and exports.
    # Statistics periods are local dates of Vietnam (UTC+7), not the machine's.
    today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()
    start, end = today.replace(day=1), today + datetime.timedelta(days=1)
    stats = statistics_stats_json.sync_detailed(client=auditor, unit=district.id, from_=start, to=end)
    assert parsed(stats, Statistics, 200).total.figures.received >= 1
    bom = b"\xef\xbb\xbf"
    downloaded(statistics_stats_csv.sync_detailed(client=auditor, unit=district.id, from_=start, to=end), bom)
    downloaded(statistics_stats_xlsx.sync_detailed(client=auditor, unit=district.id, from_=start, to=end), b"PK")
    downloaded(statistics_dossiers_csv.sync_detailed(client=auditor, unit=district.id, from_=start, to=end), bom)
    downloaded(statistics_dossiers_xlsx.sync_detailed(client=auditor, unit=district.id, from_=start, to=end), b"PK")
    problem(statistics_stats_csv.sync_detailed(client=citizen), 403, ProblemCode.FORBIDDEN)
    log = parsed(audit_list.sync_detailed(client=auditor, target=dossier.id, limit=5), PageAuditEntry, 200)
    assert log.items and all(e.target == dossier.id for e in log.items)
    downloaded(audit_export.sync_detailed(client=auditor, target=dossier.id), bom)
    print(f"{calls} typed calls, every answer as documented")


if __name__ == "__main__":
    main(sys.argv[1])
