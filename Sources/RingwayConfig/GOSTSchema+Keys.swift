/// The keys of each mapping of GOST v3's configuration file (go-gost/x `config.Config` and the
/// types under it): those Ringway reads, and every other one GOST has, refused with a hint so a
/// GOST file never loses a setting without a word.
extension GOSTSchema {
    enum Keys {
        static let top = SchemaKeys(
            ["services", "chains", "log", "metrics"],
            gostOnly: [
                "hops", "authers", "admissions", "bypasses", "resolvers", "hosts", "ingresses", "routers", "sds",
                "recorders", "limiters", "climiters", "rlimiters", "observers", "loggers", "tls", "profiling", "api",
                "rewriters", "p2ps", "caches", "quotas", "nodes",
            ],
            hints: [
                "hops": "define each hop inside chains[].hops; Ringway does not read top-level hops",
                "authers": "put username and password in the service's handler.auth",
                "resolvers": "remove it (the system resolver is used)",
                "hosts": "remove it (the system resolver reads /etc/hosts)",
                "limiters": "remove it (no traffic limiting)",
                "climiters": maxConnectionsHint,
                "rlimiters": "remove it (no rate limiting)",
                "loggers": "Ringway writes JSON lines to standard error; set log.level",
                "tls": "remove it (no TLS)",
                "api": "remove it (Ringway has no web API)",
            ])

        static let service = SchemaKeys(
            ["name", "addr", "handler", "listener", "forwarder", "metadata"],
            gostOnly: [
                "interface", "sockopts", "admission", "admissions", "bypass", "bypasses", "resolver", "hosts",
                "limiter",
                "climiter", "rlimiter", "logger", "loggers", "observer", "recorders", "status",
            ],
            hints: [
                "limiter": "remove it (no traffic limiting)",
                "climiter": maxConnectionsHint,
                "logger": "Ringway writes JSON lines to standard error; set log.level",
                "loggers": "Ringway writes JSON lines to standard error; set log.level",
                "status": "remove it (GOST's API fills it in)",
            ])

        static let handler = SchemaKeys(
            ["type", "chain", "auth", "metadata"],
            gostOnly: ["retries", "chainGroup", "auther", "authers", "tls", "limiter", "observer"],
            hints: [
                "chainGroup": "name one chain in handler.chain",
                "auther": "put username and password in handler.auth",
                "authers": "put username and password in handler.auth",
                "limiter": "remove it (no traffic limiting)",
            ])

        static let listener = SchemaKeys(
            ["type", "metadata"],
            gostOnly: ["chain", "chainGroup", "auther", "authers", "auth", "tls"],
            hints: [
                "chain": "a listener's chain is GOST's remote forwarding, which Ringway does not do; a handler's "
                    + "chain goes in handler.chain",
                "chainGroup": "remove it (no remote forwarding)",
                "auther": "put username and password in handler.auth",
                "authers": "put username and password in handler.auth",
                "auth": "put username and password in handler.auth",
            ])

        static let forwarder = SchemaKeys(
            ["name", "nodes", "targets", "selector"],
            gostOnly: ["hop"],
            hints: ["hop": "list the targets in forwarder.nodes; Ringway does not read top-level hops"])

        static let forwarderNode = SchemaKeys(
            ["name", "addr"],
            gostOnly: [
                "host", "network", "protocol", "path", "bypass", "bypasses", "http", "tls", "auth", "metadata",
                "filter", "matcher", "probe",
            ],
            hints: [
                "metadata": "to send PROXY headers to the targets set handler.metadata.proxyProtocol; for maxFails "
                    + "and failTimeout use forwarder.selector (Ringway has no per-node values)",
                "network": "remove it (TCP only)",
                "probe": "to probe the targets set metadata.probeInterval (and probeTimeout) on the service: "
                    + "Ringway probes every target of a service alike",
            ])

        static let selector = SchemaKeys(["strategy", "maxFails", "failTimeout"])

        /// GOST 3.3's node liveness probe (chain nodes); Ringway's probe is a TCP connect.
        static let probe = SchemaKeys(
            ["type", "addr", "interval", "timeout"],
            gostOnly: ["httpPath", "httpHost", "httpHeaders", "expectedStatus", "command"],
            hints: [
                "httpPath": "remove it: Ringway's probe is a TCP connect (type: tcp)",
                "httpHost": "remove it: Ringway's probe is a TCP connect (type: tcp)",
                "httpHeaders": "remove it: Ringway's probe is a TCP connect (type: tcp)",
                "expectedStatus": "remove it: Ringway's probe is a TCP connect (type: tcp)",
                "command": "remove it: Ringway's probe is a TCP connect (type: tcp)",
            ])

        static let auth = SchemaKeys(["username", "password"])

        static let chain = SchemaKeys(
            ["name", "hops"],
            gostOnly: ["selector", "metadata"],
            hints: ["selector": "put the selector on the hop", "metadata": "put proxyProtocol in the hop's metadata"])

        static let hop = SchemaKeys(
            ["name", "nodes", "selector", "metadata"],
            gostOnly: [
                "interface", "sockopts", "bypass", "bypasses", "resolver", "hosts", "reload", "file", "redis", "http",
                "plugin",
            ])

        static let node = SchemaKeys(
            ["name", "addr", "connector", "dialer", "metadata", "probe"],
            gostOnly: [
                "host", "network", "protocol", "path", "interface", "netns", "sockopts", "bypass", "bypasses",
                "resolver", "hosts", "filter", "matcher", "http", "tls", "auth",
            ],
            hints: ["auth": "put username and password in connector.auth", "network": "remove it (TCP only)"])

        static let connector = SchemaKeys(["type", "auth"], gostOnly: ["tls", "metadata"])

        static let dialer = SchemaKeys(["type"], gostOnly: ["auth", "tls", "metadata"])

        static let log = SchemaKeys(
            ["level", "format", "output"],
            gostOnly: ["rotation"],
            hints: ["rotation": "remove it (Ringway logs to standard error; let the service manager keep the log)"])

        static let metrics = SchemaKeys(
            ["addr", "path", "requestTimeout"],
            gostOnly: ["auth", "auther"],
            hints: [
                "auth": "remove it (the endpoint has no authentication; listen on 127.0.0.1 or behind a firewall)",
                "auther": "remove it (the endpoint has no authentication; listen on 127.0.0.1 or behind a firewall)",
            ])

        private static let maxConnectionsHint =
            "GOST closes connections over the limit; Ringway leaves them queued until a slot frees: set "
            + "metadata.maxConnections on the service"
    }
}
