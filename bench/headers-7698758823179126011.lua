
wrk.method = "GET"
wrk.headers["OCS-APIRequest"] = "true"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic dTU4OmJlbmNocHc="
