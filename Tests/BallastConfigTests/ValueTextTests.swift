import BallastCore
import Testing
@testable import BallastConfig

/// Address ranges and durations as written in configuration files.
@Suite struct ValueTextTests {
    @Test(arguments: [
        ("192.0.2.0/24", "192.0.2.0", "192.0.2.255"),
        ("192.0.2.10-192.0.2.20", "192.0.2.10", "192.0.2.20"),
        (" 192.0.2.10 - 192.0.2.20 ", "192.0.2.10", "192.0.2.20"),
        ("192.0.2.7", "192.0.2.7", "192.0.2.7"),
        ("192.0.2.7-192.0.2.7", "192.0.2.7", "192.0.2.7"),
        ("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"),
        ("2001:db8::10-2001:db8::1:0", "2001:db8::10", "2001:db8::1:0"),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
    ])
    func poolEntries(text: String, first: String, last: String) throws {
        let range = try AddressRange(parsingPoolEntry: text)
        #expect(range.first == IPAddress(first)!)
        #expect(range.last == IPAddress(last)!)
    }

    @Test(arguments: [
        ("192.0.2.1/24", "\"192.0.2.1/24\" has host bits set",
         "did you mean 192.0.2.0/24? For the single address write 192.0.2.1/32"),
        ("2001:db8::1/64", "\"2001:db8::1/64\" has host bits set",
         "did you mean 2001:db8::/64? For the single address write 2001:db8::1/128"),
        ("192.0.2.20-192.0.2.10", "range \"192.0.2.20-192.0.2.10\" ends at 192.0.2.10, before its start 192.0.2.20",
         "write 192.0.2.10-192.0.2.20"),
        ("192.0.2.1-2001:db8::1", "range \"192.0.2.1-2001:db8::1\" mixes an IPv4 and an IPv6 address",
         "a range holds addresses of one family; write one entry per family"),
        ("192.0.2.0/33", "\"192.0.2.0/33\" has an invalid prefix length", "the prefix length of this family is 0 to 32"),
        ("192.0.2.300/24", "\"192.0.2.300/24\" is not an IPv4 or IPv6 CIDR or range",
         "write a CIDR such as 192.0.2.0/24 or a range such as 192.0.2.10-192.0.2.20"),
        ("192.0.2.0/24-192.0.2.255", "\"192.0.2.0/24\" in \"192.0.2.0/24-192.0.2.255\" is not an IPv4 or IPv6 address",
         "a range joins two addresses, not CIDRs"),
        ("192.0.2.1-192.0.2.5-192.0.2.9", "\"192.0.2.1-192.0.2.5-192.0.2.9\" is not an address range",
         "write a CIDR such as 192.0.2.0/24 or a range such as 192.0.2.10-192.0.2.20"),
        ("010.0.0.1/32", "\"010.0.0.1/32\" is not an IPv4 or IPv6 CIDR or range",
         "write a CIDR such as 192.0.2.0/24 or a range such as 192.0.2.10-192.0.2.20"),
    ])
    func badPoolEntries(text: String, message: String, hint: String) {
        #expect(throws: AddressRangeProblem(message: message, hint: hint)) { try AddressRange(parsingPoolEntry: text) }
    }

    @Test(arguments: [
        ("0", Duration.zero), ("5s", .seconds(5)), ("500ms", .milliseconds(500)), ("1m", .seconds(60)),
        ("1m30s", .seconds(90)), ("1.5h", .seconds(5400)), ("2h45m", .seconds(9900)), ("250us", .microseconds(250)),
        ("10µs", .microseconds(10)), ("7ns", .nanoseconds(7)), (".5s", .milliseconds(500)),
    ])
    func durations(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "5", "s", "5 s", "-1s", "5sec", "1d", "1..5s", "99999999999999h"])
    func notDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [
        (Duration.seconds(0), "0s"), (.seconds(5), "5s"), (.seconds(90), "1m30s"), (.seconds(3600), "1h"),
        (.seconds(3661), "1h1m1s"), (.milliseconds(1500), "1500ms"), (.microseconds(3), "3us"), (.nanoseconds(5), "5ns"),
    ])
    func durationText(duration: Duration, expected: String) {
        #expect(DurationText.format(duration) == expected)
    }
}
