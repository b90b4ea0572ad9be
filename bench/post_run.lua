-- wrk script: submit runs of the `noop` definition (the server runs with TUG_DISPATCH=false).
wrk.method = "POST"
wrk.body = '{"definition":"noop","env":{"BENCH":"1"}}'
wrk.headers["Content-Type"] = "application/json"
