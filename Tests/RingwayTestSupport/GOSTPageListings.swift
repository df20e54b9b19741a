/// The listings of GOST's PROXY protocol page (shared/seeds/000_*.txt), each as the YAML between
/// its fences with the page's four-space code indentation taken off. Shared by the configuration-file
/// tests and the end-to-end tests that run them (with their ports changed).
public enum GOSTPageListings {
    /// "Receive Proxy Protocol Header": `metadata:` is indented with a tab on the page.
    public static let receiveWithTab = """
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
    public static let receive = receiveWithTab.replacingTabs()

    /// "Port Forwarding Node": the handler sends PROXY v1 to the target.
    public static let forwardNode = """
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
    public static let proxyNode = """
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
