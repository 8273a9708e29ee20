// Synthetic manifest files shaped like `kubectl get -o yaml` / `-o json` output
// (metadata with uid, resourceVersion and ownerReferences, status, Pod targetRefs),
// which is the verbose end of what a directory of manifests holds.
import FoundationEssentials

/// A JSON-like document, written out as YAML (kubectl's layout: keys in order,
/// sequences not indented under their key) or as JSON (4-space indentation).
indirect enum Doc {
    case string(String)
    /// A number or boolean, written without quotes in both formats.
    case literal(String)
    case map([(String, Doc)])
    case list([Doc])

    func yaml(into out: inout String, indent: Int = 0) {
        switch self {
        case .map(let pairs):
            for (key, value) in pairs {
                out += String(repeating: " ", count: indent) + key + ":"
                value.yamlValue(into: &out, indent: indent, inList: false)
            }
        case .list(let items):
            for item in items {
                out += String(repeating: " ", count: indent) + "-"
                item.yamlValue(into: &out, indent: indent, inList: true)
            }
        case .string, .literal:
            yamlValue(into: &out, indent: indent, inList: false)
        }
    }

    /// The value after "key:" or "-": scalars on the same line, collections below.
    private func yamlValue(into out: inout String, indent: Int, inList: Bool) {
        switch self {
        case .string(let s): out += " " + Doc.yamlScalar(s) + "\n"
        case .literal(let s): out += " " + s + "\n"
        case .map(let pairs) where inList:
            // "- key: value" with the rest of the mapping aligned under the first key.
            var first = true
            for (key, value) in pairs {
                out += (first ? " " : String(repeating: " ", count: indent + 2)) + key + ":"
                value.yamlValue(into: &out, indent: indent + 2, inList: false)
                first = false
            }
        case .map:
            out += "\n"
            yaml(into: &out, indent: indent + 2)
        case .list:
            out += "\n"
            yaml(into: &out, indent: inList ? indent + 2 : indent)
        }
    }

    /// Plain when YAML would read the text back as the same string, else double-quoted.
    private static func yamlScalar(_ s: String) -> String {
        // As kubectl (go-yaml) does: quote what a YAML 1.1 reader would take for a number, boolean, null or date.
        let looksTyped = s.isEmpty || Int(s) != nil || Double(s) != nil || ["true", "false", "null", "~"].contains(s)
            || s.prefix(10).allSatisfy { $0.isNumber || $0 == "-" } && s.count >= 10 && s.dropFirst(4).first == "-"
        let special = s.contains { ":#{}[],&*!|>'\"%@`".contains($0) } || s.hasPrefix("-") || s.hasPrefix(" ")
        return looksTyped || special ? jsonString(s) : s
    }

    func json(into out: inout String, indent: Int = 0) {
        let inner = String(repeating: " ", count: indent + 4)
        switch self {
        case .string(let s): out += Doc.jsonString(s)
        case .literal(let s): out += s
        case .map(let pairs):
            out += "{\n"
            for (i, (key, value)) in pairs.enumerated() {
                out += inner + Doc.jsonString(key) + ": "
                value.json(into: &out, indent: indent + 4)
                out += i == pairs.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        case .list(let items):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                item.json(into: &out, indent: indent + 4)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}

/// Service number `i` of the cluster and its EndpointSlice.
struct ClusterShape {
    var services: Int
    var endpointsPerService: Int
    var namespaces = 10
    var nodes = 50

    func namespace(_ i: Int) -> String { "team-\(i % namespaces)" }
    func name(_ i: Int) -> String { "svc-\(i)" }

    /// A deterministic UUID-shaped string.
    private func uid(_ kind: UInt64, _ i: Int) -> String {
        var x = (kind &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(i) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 31
        // Exactly 16 characters each: cut, or filled up with the pad.
        func sixteen(_ s: String, _ pad: Character) -> String {
            String((s + String(repeating: pad, count: 16)).prefix(16))
        }
        let hex = sixteen(String(String(x, radix: 16).reversed()), "0")
        let more = sixteen(String(x &* 31, radix: 16), "a")
        let all = Array(hex + more)
        return "\(String(all[0..<8]))-\(String(all[8..<12]))-4\(String(all[13..<16]))-a\(String(all[17..<20]))-\(String(all[20..<32]))"
    }

    private func metadata(_ i: Int, name: String, extra: [(String, Doc)], labels: [(String, Doc)]) -> Doc {
        .map(extra + [
            ("creationTimestamp", .string("2026-10-\(10 + i % 18)T0\(i % 10):1\(i % 6):2\(i % 10)Z")),
            ("labels", .map(labels)),
            ("name", .string(name)),
            ("namespace", .string(namespace(i))),
            ("resourceVersion", .string("\(4_811_237 + i * 7)")),
            ("uid", .string(uid(1, i))),
        ])
    }

    func service(_ i: Int) -> Doc {
        let dualStack = i % 20 == 3
        let clusterIP = "10.96.\(i / 250).\(i % 250 + 1)"
        var ports: [Doc] = [.map([("name", .string("http")), ("nodePort", .literal("\(30000 + i % 2700)")),
                                  ("port", .literal("80")), ("protocol", .string("TCP")),
                                  ("targetPort", .string("http"))])]
        if i % 3 == 0 {
            ports.append(.map([("name", .string("https")), ("nodePort", .literal("\(30000 + (i + 1350) % 2700)")),
                               ("port", .literal("443")), ("protocol", .string("TCP")),
                               ("targetPort", .literal("8443"))]))
        }
        var spec: [(String, Doc)] = [
            ("allocateLoadBalancerNodePorts", .literal("true")),
            ("clusterIP", .string(clusterIP)),
            ("clusterIPs", .list([.string(clusterIP)] + (dualStack ? [.string("fd00:10:96::\(String(i, radix: 16))")] : []))),
            ("externalTrafficPolicy", .string(i % 4 == 0 ? "Local" : "Cluster")),
        ]
        if i % 4 == 0 { spec.append(("healthCheckNodePort", .literal("\(32000 + i % 700)"))) }
        spec += [
            ("internalTrafficPolicy", .string("Cluster")),
            ("ipFamilies", .list([.string("IPv4")] + (dualStack ? [.string("IPv6")] : []))),
            ("ipFamilyPolicy", .string(dualStack ? "PreferDualStack" : "SingleStack")),
            ("ports", .list(ports)),
            ("selector", .map([("app.kubernetes.io/instance", .string(name(i))),
                               ("app.kubernetes.io/name", .string("web"))])),
            ("sessionAffinity", .string("None")),
            ("type", .string("LoadBalancer")),
        ]
        let annotations: [(String, Doc)] = i % 10 < 2
            ? [("metallb.universe.tf/allow-shared-ip", .string("pair-\(i / 10)"))] : []
        return .map([
            ("apiVersion", .string("v1")),
            ("kind", .string("Service")),
            ("metadata", metadata(i, name: name(i), extra: annotations.isEmpty ? [] : [("annotations", .map(annotations))],
                                  labels: [("app.kubernetes.io/instance", .string(name(i))),
                                           ("app.kubernetes.io/managed-by", .string("Helm")),
                                           ("app.kubernetes.io/name", .string("web"))])),
            ("spec", .map(spec)),
            ("status", .map([("loadBalancer", .map([("ingress", .list([
                .map([("ip", .string("192.0.\(2 + i / 250).\(i % 250 + 1)")), ("ipMode", .string("VIP"))]),
            ]))]))])),
        ])
    }

    func endpointSlice(_ i: Int) -> Doc {
        let sliceName = "\(name(i))-\(String(uid(2, i).prefix(5)))"
        let endpoints: [Doc] = (0..<endpointsPerService).map { e in
            let pod = "\(name(i))-7d9f8c6b5-\(String(uid(3, i * 64 + e).suffix(5)))"
            let terminating = e == endpointsPerService - 1 && i % 5 == 0
            return .map([
                ("addresses", .list([.string("10.\(64 + (i >> 12)).\((i >> 4) & 0xFF).\((i & 0xF) << 4 | e)")])),
                ("conditions", .map([("ready", .literal(terminating ? "false" : "true")),
                                     ("serving", .literal("true")),
                                     ("terminating", .literal(terminating ? "true" : "false"))])),
                ("nodeName", .string("node-\((i + e) % nodes)")),
                ("targetRef", .map([("kind", .string("Pod")), ("name", .string(pod)),
                                    ("namespace", .string(namespace(i))), ("uid", .string(uid(4, i * 64 + e)))])),
                ("zone", .string("zone-\("abc".map { String($0) }[(i + e) % 3])")),
            ])
        }
        return .map([
            ("addressType", .string("IPv4")),
            ("apiVersion", .string("discovery.k8s.io/v1")),
            ("endpoints", .list(endpoints)),
            ("kind", .string("EndpointSlice")),
            ("metadata", metadata(i, name: sliceName, extra: [
                ("annotations", .map([("endpoints.kubernetes.io/last-change-trigger-time",
                                       .string("2026-11-02T09:1\(i % 10):27Z"))])),
                ("generateName", .string("\(name(i))-")),
                ("generation", .literal("\(1 + i % 40)")),
            ], labels: [
                ("endpointslice.kubernetes.io/managed-by", .string("endpointslice-controller.k8s.io")),
                ("kubernetes.io/service-name", .string(name(i))),
            ])),
            ("ports", .list([.map([("name", .string("http")), ("port", .literal("8080")), ("protocol", .string("TCP"))])])),
        ])
    }
}

/// The directory layouts the benchmark times, each holding the same cluster.
enum Layout: String, CaseIterable {
    /// One file per Service holding the Service and its slice, as in a GitOps repository.
    case yamlSmall = "yaml-small"
    /// One file per namespace.
    case yamlFew = "yaml-few"
    /// Every object in one multi-document file.
    case yamlBig = "yaml-big"
    /// One `kind: List` file per Service (`kubectl get svc,endpointslice -o json`).
    case jsonSmall = "json-small"
    /// Every object in one `kind: List`.
    case jsonBig = "json-big"

    var summary: String {
        switch self {
        case .yamlSmall: "one YAML file per Service + slice"
        case .yamlFew: "one YAML file per namespace"
        case .yamlBig: "one YAML file, every object"
        case .jsonSmall: "one JSON List per Service + slice"
        case .jsonBig: "one JSON List, every object"
        }
    }

    /// Writes the layout into `directory` (created, or emptied of manifests first).
    func write(_ shape: ClusterShape, to directory: String) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: directory)
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        func yaml(_ docs: [Doc]) -> String {
            var out = ""
            for (n, doc) in docs.enumerated() {
                if n > 0 { out += "---\n" }
                doc.yaml(into: &out)
            }
            return out
        }
        func jsonList(_ items: [Doc]) -> String {
            var out = ""
            Doc.map([("apiVersion", .string("v1")), ("items", .list(items)), ("kind", .string("List")),
                     ("metadata", .map([("resourceVersion", .string(""))]))]).json(into: &out)
            return out + "\n"
        }
        let all = 0..<shape.services
        switch self {
        case .yamlSmall:
            for i in all {
                try write("\(shape.namespace(i))--\(shape.name(i)).yaml", yaml([shape.service(i), shape.endpointSlice(i)]))
            }
        case .yamlFew:
            for ns in 0..<shape.namespaces {
                let members = all.filter { $0 % shape.namespaces == ns }
                try write("\(shape.namespace(ns)).yaml", yaml(members.flatMap { [shape.service($0), shape.endpointSlice($0)] }))
            }
        case .yamlBig:
            try write("cluster.yaml", yaml(all.map(shape.service) + all.map(shape.endpointSlice)))
        case .jsonSmall:
            for i in all {
                try write("\(shape.namespace(i))--\(shape.name(i)).json", jsonList([shape.service(i), shape.endpointSlice(i)]))
            }
        case .jsonBig:
            try write("cluster.json", jsonList(all.map(shape.service) + all.map(shape.endpointSlice)))
        }
    }
}
