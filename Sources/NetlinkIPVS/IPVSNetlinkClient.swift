// IPVSControl over generic netlink.
//
// Writes are batched: many request messages, each with NLM_F_ACK and its own
// sequence number, go to the kernel in one sendmsg; the kernel processes them
// in order, synchronously inside that sendmsg, and keeps going after a failed
// one (netlink_rcv_skb acks each message and moves on). The acks are then
// read with recvmmsg, many per call, and matched to operations by sequence
// number. A batch is sized so that all of its acks fit in the receive buffer
// at once: each ack takes about 768 bytes of it (measured on 6.1: 277 acks
// filled the default 212,992 bytes), and an ack that does not fit is dropped.
//
// Dumps cannot be pipelined the same way. A netlink socket runs one dump at a
// time and the kernel only continues a dump when the reader calls recvmsg, so
// a second GET_DEST dump request in the same sendmsg is refused with EBUSY
// (measured on 6.1: three dump requests in one buffer gave one dump and two
// EBUSY acks). IPVS dumps also never finish in their first step (the dump
// callback returns the bytes it wrote, so NLMSG_DONE needs a second step).
// A destination dump therefore costs one sendmsg plus one recvmmsg, which
// reads the first part and, because recvmsg runs the next step synchronously,
// the rest and NLMSG_DONE in the same call. More sockets would not need fewer
// system calls: each socket still takes one send and one receive per service.

import BallastCore
import Synchronization

/// Reads and writes the IPVS table of the network namespace that was current
/// when it was created. Thread-safe; calls are serialised.
public final class IPVSNetlinkClient: IPVSControl, Sendable {
    private let session: Mutex<IPVSSession>

    /// Opens a generic netlink socket in the current network namespace and
    /// resolves the IPVS family; throws `IPVSError` whose reason is
    /// "IPVS is not available in this kernel: ..." when the kernel has none.
    public init() throws(IPVSError) {
        session = Mutex(try IPVSSession())
    }

    public func dump() throws(IPVSError) -> [ObservedVirtualService] {
        try session.withLock { (session: inout IPVSSession) throws(IPVSError) -> [ObservedVirtualService] in
            try session.dump()
        }
    }

    public func compactDump() throws(IPVSError) -> CompactIPVSDump {
        try session.withLock { (session: inout IPVSSession) throws(IPVSError) -> CompactIPVSDump in
            try session.compactDump()
        }
    }

    public func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] {
        session.withLock { $0.perform(operations) }
    }

    public func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        try session.withLock { (session: inout IPVSSession) throws(IPVSError) -> [ObservedDestination] in
            try session.destinations(of: service)
        }
    }
}

/// The socket and buffers behind one client; used under the client's lock.
final class IPVSSession {
    /// One sendmsg of writes. Larger batches save few system calls: the
    /// kernel's work per message dominates.
    static let batchBytes = 64 * 1024
    static let receiveBuffer = 4 * 1024 * 1024
    static let sendBuffer = 1024 * 1024
    /// Receive-buffer bytes budgeted per expected ack (measured: ~768).
    static let bytesPerAck = 1024

    private var socket: NetlinkSocket?
    private var writer = NetlinkMessageWriter(capacity: batchBytes + 4096)
    private var sequence: UInt32 = 1
    /// A dump part is at most 32 KiB: netlink sizes dump buffers from the
    /// reader's buffer, capped at SKB_WITH_OVERHEAD(32768).
    private let dumpBuffers = ReceiveBuffers(count: 16, slotSize: 32 * 1024)
    /// With NETLINK_CAP_ACK an ack is 36 bytes; without it (kernels before
    /// 4.3) an error ack echoes the request, which stays well under 512.
    private let ackBuffers = ReceiveBuffers(count: 256, slotSize: 512)

    init() throws(IPVSError) {
        socket = try Self.open()
    }

    private static func open() throws(IPVSError) -> NetlinkSocket {
        try NetlinkSocket(familyName: IPVSKernel.familyName, receiveBuffer: receiveBuffer, sendBuffer: sendBuffer)
    }

    /// The socket, reopened if an earlier failure left it in an unknown state
    /// (a dump cut short, lost replies).
    private func connected() throws(IPVSError) -> NetlinkSocket {
        if let socket { return socket }
        let fresh = try Self.open()
        socket = fresh
        return fresh
    }

    private func nextSequence(reserving count: Int = 1) -> UInt32 {
        defer { sequence &+= UInt32(count) }
        return sequence
    }

    // MARK: - Dump

    func dump() throws(IPVSError) -> [ObservedVirtualService] {
        let socket = try connected()
        var services = try serviceList(on: socket)
        for index in services.indices {
            services[index].destinations = try destinations(of: services[index].key, on: socket)
        }
        return services
    }

    /// The same table, each service's destinations read into one scratch
    /// array and appended to the compact dump before the next service is
    /// read: no array per service is made (see CompactIPVSDump).
    func compactDump() throws(IPVSError) -> CompactIPVSDump {
        let socket = try connected()
        let services = try serviceList(on: socket)
        var dump = CompactIPVSDump(reservingCapacity: services.count)
        var scratch: [ObservedDestination] = []
        for service in services {
            scratch.removeAll(keepingCapacity: true)
            try readDestinations(of: service.key, on: socket, into: &scratch)
            dump.append(service.service, destinations: scratch)
        }
        return dump
    }

    /// Every virtual service, without destinations, sorted by key: the kernel
    /// dumps in hash order; a stable order makes output and diffs readable.
    private func serviceList(on socket: NetlinkSocket) throws(IPVSError) -> [ObservedVirtualService] {
        let encoder = IPVSRequestEncoder(family: socket.family)
        var services: [ObservedVirtualService] = []
        try runDump("dump services", on: socket, request: { sequence, writer in
            encoder.appendServiceDump(sequence: sequence, to: &writer)
        }, each: { message throws(IPVSDecodeError) in
            services.append(try IPVSReplyDecoder.service(message))
        })
        services.sort { $0.key < $1.key }
        return services
    }

    /// One GET_DEST dump. The kernel answers one for a service it does not
    /// have with no destinations, not an error (ip_vs_genl_dump_dests).
    func destinations(of key: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        try destinations(of: key, on: try connected())
    }

    private func destinations(of key: VirtualServiceKey, on socket: NetlinkSocket) throws(IPVSError)
        -> [ObservedDestination] {
        var destinations: [ObservedDestination] = []
        try readDestinations(of: key, on: socket, into: &destinations)
        return destinations
    }

    /// Appends the destinations of `key` to `destinations`, sorted.
    private func readDestinations(of key: VirtualServiceKey, on socket: NetlinkSocket,
                                  into destinations: inout [ObservedDestination]) throws(IPVSError) {
        let encoder = IPVSRequestEncoder(family: socket.family)
        let start = destinations.endIndex
        try runDump("dump destinations of \(key)", on: socket, request: { sequence, writer in
            encoder.appendDestinationDump(of: key, sequence: sequence, to: &writer)
        }, each: { message throws(IPVSDecodeError) in
            destinations.append(try IPVSReplyDecoder.destination(message, serviceFamily: key.family))
        })
        destinations[start...].sort { $0.destination < $1.destination }
    }

    /// Sends one dump request and hands each of its messages to `each` until NLMSG_DONE.
    private func runDump(_ operation: @autoclosure () -> String, on socket: NetlinkSocket,
                         request: (UInt32, inout NetlinkMessageWriter) -> Void,
                         each: (NetlinkMessage) throws(IPVSDecodeError) -> Void) throws(IPVSError) {
        let sequence = nextSequence()
        writer.removeAll()
        request(sequence, &writer)
        do {
            try socket.send(writer.bytes)
        } catch {
            throw .system(operation(), errno: error.errno)
        }

        // A reply that cannot be decoded does not stop the reading: the dump
        // must run to NLMSG_DONE or the socket could not start another one.
        var firstFailure: IPVSError?
        var finished = false
        while !finished {
            let received: Int
            do {
                received = try socket.receive(into: dumpBuffers, wait: true)
            } catch {
                self.socket = nil
                throw .system(operation(), errno: error.errno)
            }
            for slot in 0..<received {
                let (bytes, truncated) = dumpBuffers.datagram(slot)
                var messages = NetlinkMessages(bytes).makeIterator()
                while let message = messages.next() {
                    guard message.sequence == sequence else { continue }  // left over from an abandoned request
                    switch message.type {
                    case Netlink.done:
                        let code = (try? message.errorNumber()) ?? Errno.EPROTO
                        if code != 0 { firstFailure = firstFailure ?? .system(operation(), errno: code) }
                        finished = true
                    case Netlink.error:
                        // The dump never started (EPERM, EBUSY...): nothing follows.
                        let code = (try? message.errorNumber()) ?? Errno.EPROTO
                        throw firstFailure ?? .system(operation(), errno: code)
                    case socket.family:
                        do {
                            try each(message)
                        } catch {
                            firstFailure = firstFailure ?? error.ipvsError(operation())
                        }
                    default:
                        continue
                    }
                }
                if truncated || messages.malformed != nil {
                    self.socket = nil
                    let problem = messages.malformed ?? NetlinkWireError("datagram cut to \(bytes.count) bytes")
                    throw firstFailure ?? .malformedReply(operation(), problem)
                }
            }
        }
        if let firstFailure { throw firstFailure }
    }

    // MARK: - Writes

    func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] {
        var results = [Result<Void, IPVSError>](repeating: .success(()), count: operations.count)
        let socket: NetlinkSocket
        do {
            socket = try connected()
        } catch {
            return operations.map {
                .failure(IPVSError(operation: $0.description, errno: error.errno, reason: error.description))
            }
        }
        let encoder = IPVSRequestEncoder(family: socket.family)
        // All acks of a batch must fit in the receive buffer together.
        let messagesPerBatch = max(1, socket.receiveBufferSize / Self.bytesPerAck)
        let bytesPerBatch = min(Self.batchBytes, socket.sendBufferSize / 2)

        var batch: [Int] = []  // operation index of each message; message k has sequence first + k
        batch.reserveCapacity(min(operations.count, messagesPerBatch))
        var next = operations.startIndex
        while next < operations.endIndex {
            writer.removeAll()
            batch.removeAll(keepingCapacity: true)
            let first = sequence
            while next < operations.endIndex, writer.count < bytesPerBatch, batch.count < messagesPerBatch {
                do {
                    try encoder.append(operations[next], sequence: first &+ UInt32(batch.count), to: &writer)
                    batch.append(next)
                } catch {
                    results[next] = .failure(error)
                }
                next += 1
            }
            _ = nextSequence(reserving: batch.count)
            guard !batch.isEmpty else { continue }

            do {
                try socket.send(writer.bytes)
            } catch {
                for index in batch {
                    results[index] = .failure(.system(operations[index].description, errno: error.errno))
                }
                continue
            }
            collectAcks(for: batch, firstSequence: first, operations: operations, on: socket, into: &results)
        }
        return results
    }

    /// Reads one ack per message of the batch and records each failure on its operation.
    private func collectAcks(for batch: [Int], firstSequence: UInt32, operations: [IPVSOperation],
                             on socket: NetlinkSocket, into results: inout [Result<Void, IPVSError>]) {
        var acknowledged = [Bool](repeating: false, count: batch.count)
        var pending = batch.count
        // After ENOBUFS some acks are gone for good: read what is queued, then stop.
        var overflowed = false
        while pending > 0 {
            let received: Int
            do {
                received = try socket.receive(into: ackBuffers, wait: !overflowed)
            } catch let error where error.errno == Errno.ENOBUFS {
                overflowed = true
                continue
            } catch {
                for (k, index) in batch.enumerated() where !acknowledged[k] {
                    results[index] = .failure(.system(operations[index].description, errno: error.errno))
                }
                self.socket = nil
                return
            }
            if received == 0 { break }
            for slot in 0..<received {
                var messages = NetlinkMessages(ackBuffers.datagram(slot).bytes).makeIterator()
                while let message = messages.next() {
                    let k = Int(message.sequence &- firstSequence)
                    guard message.type == Netlink.error, k < batch.count, !acknowledged[k] else { continue }
                    acknowledged[k] = true
                    pending -= 1
                    let code = (try? message.errorNumber()) ?? Errno.EPROTO
                    if code != 0 {
                        results[batch[k]] = .failure(.kernel(operations[batch[k]], errno: code))
                    }
                }
            }
        }
        for (k, index) in batch.enumerated() where !acknowledged[k] {
            results[index] = .failure(.system(operations[index].description, errno: Errno.ENOBUFS))
        }
    }
}
