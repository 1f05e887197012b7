"""Schemathesis hooks for .ci/schemathesis.

The run authenticates with one API token; schemathesis finds that token's id
in `GET /api/v1/tokens` and, like any client, may revoke it with
`DELETE /api/v1/tokens/{id}`, after which every other operation answers 401
and tests nothing. This hook sends that one call for an unknown id instead
(still exercising the operation: it answers 404), so the run keeps its token.
"""

import os

import schemathesis

KEEP = os.environ.get("PINION_SCHEMATHESIS_TOKEN_ID", "")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if (
        KEEP
        and case.method.upper() == "DELETE"
        and case.path.endswith("/tokens/{id}")
        and (case.path_parameters or {}).get("id") == KEEP
    ):
        case.path_parameters["id"] = "tok_0000000000000000"
