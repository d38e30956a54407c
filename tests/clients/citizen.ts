// A citizen's first calls through openapi-fetch and the types openapi-typescript
// generates from /api/v1/openapi.json (.ci/clients, docs/api-clients.md).
// Type-checked with `tsc --noEmit --strict`: a change of the document that
// breaks a client author's code fails CI.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Problem = components["schemas"]["Problem"];
type DossierView = components["schemas"]["DossierView"];

export async function fileAndFollow(baseUrl: string, email: string, password: string): Promise<DossierView> {
  const api = createClient<paths>({ baseUrl });
  const login = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (login.error) {
    throw new Error(`login refused: ${login.error.code}`);
  }
  const headers = { Authorization: `Bearer ${login.data.access_token}` };

  const units = await api.GET("/api/v1/units", { params: { query: { q: "193", limit: 1 } } });
  if (units.error) throw new Error(units.error.detail);
  const unit = units.data.items[0];

  const filed = await api.POST("/api/v1/dossiers", {
    headers,
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: { procedure_code: "1.001612", unit_id: unit.id, form: { ten_ho_kinh_doanh: "Quán Phở" } },
  });
  if (filed.error) throw new Error(describe(filed.error));
  const dossier: DossierView = filed.data;
  const etag = filed.response.headers.get("ETag") ?? String(dossier.version);

  const withdrawn = await api.POST("/api/v1/dossiers/{id}/actions", {
    headers,
    params: { path: { id: dossier.id }, header: { "If-Match": etag } },
    body: { action: "withdraw", reason: "Nộp nhầm thủ tục" },
  });
  if (withdrawn.error) {
    // Typed: the codes a client branches on are an enum.
    if (withdrawn.error.code === "precondition_failed") return fileAndFollow(baseUrl, email, password);
    throw new Error(describe(withdrawn.error));
  }

  const result = await api.GET("/api/v1/dossiers/{id}/result", {
    headers,
    params: { path: { id: dossier.id } },
    parseAs: "blob",
  });
  if (result.error && result.error.code !== "not_found") throw new Error(describe(result.error));

  const events = await api.GET("/api/v1/dossiers/{id}/events", { headers, params: { path: { id: dossier.id } } });
  for (const event of events.data ?? []) {
    console.log(event.at, event.action, event.to_status);
  }
  return withdrawn.data;
}

function describe(problem: Problem): string {
  const allowed = problem.allowed_actions?.join(", ") ?? "";
  return `${problem.status} ${problem.code}: ${problem.detail} ${allowed}`;
}
