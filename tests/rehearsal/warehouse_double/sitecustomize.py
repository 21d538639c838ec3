"""The rehearsal's record of every AWS API call a process makes (botocore's events), when
``SPARKIFY_AWS_CALL_LOG`` names a file: one JSON line per call — service, operation, the parameters that name
its resource, the HTTP status and error code, and the access key that signed it (an ``AssumeRole`` call also
records the key it issued, so the test can tell whose key it was). On the rehearsal's PYTHONPATH only.
"""

import os

if os.environ.get("SPARKIFY_AWS_CALL_LOG"):
    import json

    import botocore.session

    NAMING = ("Bucket", "Key", "Prefix", "SecretId", "RoleArn", "ClusterIdentifier", "DbUser", "DbName", "Name")
    _create_client = botocore.session.Session.create_client

    def _record(entry):
        with open(os.environ["SPARKIFY_AWS_CALL_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(entry, default=str) + "\n")

    def create_client(self, *args, **kwargs):
        client = _create_client(self, *args, **kwargs)

        def keep_params(params, context, **_):
            context["rehearsal_params"] = {k: params[k] for k in NAMING if k in params}

        def after_call(http_response, parsed, model, context, **_):
            credentials = client._request_signer._credentials
            entry = {
                "service": model.service_model.service_name,
                "operation": model.name,
                "params": context.get("rehearsal_params", {}),
                "status": http_response.status_code,
                "error": (parsed.get("Error") or {}).get("Code") if http_response.status_code >= 300 else None,
                "access_key": credentials.access_key if credentials else None,
            }
            if model.name == "AssumeRole" and http_response.status_code < 300:
                entry["issued_key"] = parsed["Credentials"]["AccessKeyId"]
            _record(entry)

        client.meta.events.register("before-parameter-build.*.*", keep_params)
        client.meta.events.register("after-call.*.*", after_call)
        return client

    botocore.session.Session.create_client = create_client
