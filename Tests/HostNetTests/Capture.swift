import Foundation
import L2Frames
import Testing

/// tcpdump in a namespace, writing a pcap file; `stop()` returns its frames.
final class Capture {
    struct Frame {
        /// Seconds since the epoch, microsecond precision.
        var time: Double
        var bytes: [UInt8]
    }

    private let process = Process()
    private let file: URL

    init(namespace: String, interface: String, filter: String = "arp or icmp6") throws {
        file = FileManager.default.temporaryDirectory.appendingPathComponent("l2-capture-\(UUID().uuidString).pcap")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace, "tcpdump", "-i", interface, "-n", "-U",
                             "--immediate-mode", "-w", file.path, filter]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // tcpdump says "listening on IF" once the capture is active.
        var said = ""
        while !said.contains("listening on") {
            let chunk = stderr.fileHandleForReading.availableData
            try #require(!chunk.isEmpty, "tcpdump exited: \(said)")
            said += String(decoding: chunk, as: UTF8.self)
        }
    }

    func stop() throws -> [Frame] {
        // SIGKILL: the child inherits the test runner's blocked signal mask, so
        // SIGINT and SIGTERM would stay pending forever. Nothing is lost: -U
        // writes every frame to the file as it is captured.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(at: file) }
        return try Self.parse([UInt8](Data(contentsOf: file)))
    }

    /// The classic pcap format: a 24-byte file header, then per frame a
    /// 16-byte header (seconds, microseconds, captured length, original length).
    static func parse(_ data: [UInt8]) throws -> [Frame] {
        func u32(_ at: Int) -> UInt32 {
            UInt32(data[at]) | UInt32(data[at + 1]) << 8 | UInt32(data[at + 2]) << 16 | UInt32(data[at + 3]) << 24
        }
        try #require(data.count >= 24 && u32(0) == 0xa1b2_c3d4, "not a little-endian microsecond pcap file")
        var frames: [Frame] = []
        var offset = 24
        while offset + 16 <= data.count {
            let length = Int(u32(offset + 8))
            guard offset + 16 + length <= data.count else { break }
            frames.append(Frame(time: Double(u32(offset)) + Double(u32(offset + 4)) / 1e6,
                                bytes: Array(data[offset + 16 ..< offset + 16 + length])))
            offset += 16 + length
        }
        return frames
    }
}

/// One gratuitous frame on the wire, as the peer saw it.
struct Gratuitous: Equatable {
    enum Kind: Equatable { case arpRequest, arpReply, neighborAdvertisement }
    var kind: Kind
    var address: String
    var mac: MACAddress
    var time: Double

    init?(_ frame: Capture.Frame) {
        guard let ethernet = try? EthernetFrame(decoding: frame.bytes) else { return nil }
        time = frame.time
        if let arp = try? ARPPacket(decoding: ethernet.payload), arp.senderIP == arp.targetIP,
           ethernet.destination == .broadcast {
            kind = arp.operation == .request ? .arpRequest : .arpReply
            address = arp.senderIP.description
            mac = arp.senderMAC
        } else if let packet = try? IPv6Packet(decoding: ethernet.payload),
                  case .advertisement(let na)? = try? NDPMessage(validating: packet),
                  !na.solicited, packet.destination == .allNodes, let tlla = na.options.targetLinkLayerAddress {
            kind = .neighborAdvertisement
            address = na.target.description
            mac = tlla
        } else {
            return nil
        }
    }
}
