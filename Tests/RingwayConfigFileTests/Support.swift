import RingwayConfig
import RingwayConfigFile

/// The listings of GOST's PROXY protocol page (shared/seeds/000_*.txt), each as the YAML between
/// its fences with the page's four-space code indentation taken off.
enum GOSTPageListings {
    /// "Receive Proxy Protocol Header": `metadata:` is indented with a tab on the page.
    static let receiveWithTab = """
        services:
        - name: service-0
          addr: :8080
          handler:
            type: http
          listener:
            type: tcp
        \t  metadata:
        \t    proxyProtocol: 1

        """

    /// The same listing with the tab as the page renders it: `metadata` of the service.
    static let receive = receiveWithTab.replacingTabs()

    /// "Port Forwarding Node": the handler sends PROXY v1 to the target.
    static let forwardNode = """
        services:
        - name: service-0
          addr: :8080
          handler:
            type: tcp
            metadata:
              proxyProtocol: 1
          listener:
            type: tcp
          forwarder:
            nodes:
              - name: target-0
                addr: :8000

        """

    /// "Proxy Node": an auto proxy whose chain's hop gets a PROXY v1 header.
    static let proxyNode = """
        services:
          - name: service-0
            addr: :8080
            handler:
              type: auto
              chain: chain-0
            listener:
              type: tcp
        chains:
          - name: chain-0
            hops:
              - name: hop-0
                nodes:
                  - name: node-0
                    addr: :8000
                    connector:
                      type: http
                    dialer:
                      type: tcp
                metadata:
                  proxyProtocol: 1

        """
}

extension String {
    fileprivate func replacingTabs() -> String {
        String(unicodeScalars.filter { $0 != "\t" }.map(Character.init))
    }
}

/// The error a throwing call reports, or nil when it succeeds.
func failure<T>(_ body: () throws(ConfigurationError) -> T) -> ConfigurationError? {
    do throws(ConfigurationError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// `text` read as the file `ringway.yaml`.
func parse(_ text: String) throws(ConfigurationError) -> FileConfiguration {
    try ConfigFile.parse(text: text, source: "ringway.yaml")
}

/// The configuration `text` makes on its own (`ringway -C`).
func configuration(_ text: String) throws(ConfigurationError) -> RingwayConfiguration {
    try RingwayConfiguration(file: try parse(text))
}

/// The services and process settings of a configuration, without names given to unnamed
/// chains, hops and nodes (those a first render names), for comparing a file with a command line.
func unnamed(_ configuration: RingwayConfiguration) -> RingwayConfiguration {
    var copy = configuration
    copy.services = copy.services.map { service in
        var service = service
        service.chainName = nil
        service.targets = service.targets.map {
            var t = $0
            t.name = nil
            return t
        }
        service.chainTargets = service.chainTargets.map {
            var t = $0
            t.name = nil
            return t
        }
        service.chain = service.chain.map { hop in
            var hop = hop
            hop.name = nil
            hop.targets = hop.targets.map {
                var t = $0
                t.name = nil
                return t
            }
            return hop
        }
        return service
    }
    copy.serviceOrigins = [:]
    copy.fileOrigins = [:]
    copy.metricsOrigin = nil
    copy.warnings = []
    return copy
}
