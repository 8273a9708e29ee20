import Testing
@testable import BallastCore

@Suite struct AddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("10.0.100.255", "10.0.100.255"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("fe80::", "fe80::"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        let a = try #require(IPAddress(input))
        #expect(a.description == canonical)
        #expect(IPAddress(canonical) == a)
        #expect(IPAddress(bytes: a.bytes) == a)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.00", "1.2.3.1000", "1..3.4", ".1.2.3",
                      "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.\u{0664}", "1::2::3", ":::", "2001:db8::g", "1.2.3.4/32", "fe80::1%eth0"])
    func rejectsBadText(_ input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func cidrContainsAndMasks() throws {
        let c = try CIDR(parsing: "192.0.2.0/24")
        #expect(c.contains(IPAddress("192.0.2.255")!))
        #expect(!c.contains(IPAddress("192.0.3.0")!))
        #expect(c.last == IPAddress("192.0.2.255"))
        #expect(c.size == 256)
        #expect(throws: CIDR.ParseError.hostBitsSet(given: "192.0.2.1/24", network: "192.0.2.0/24")) {
            try CIDR(parsing: "192.0.2.1/24")
        }
        let v6 = try CIDR(parsing: "2001:db8::/120")
        #expect(v6.last == IPAddress("2001:db8::ff"))
        #expect(v6.contains(IPAddress("2001:db8::80")!))
        #expect(try CIDR(parsing: "10.0.0.0/8").overlaps(CIDR(parsing: "10.1.0.0/16")))
    }

    @Test func advancedStopsAtFamilyEnd() {
        #expect(IPAddress("255.255.255.255")!.advanced(by: 1) == nil)
        #expect(IPAddress("10.0.0.255")!.advanced(by: 1) == IPAddress("10.0.1.0"))
        #expect(IPAddress("::ffff:ffff:ffff:ffff")!.advanced(by: 1) == IPAddress("0:0:0:1::"))
    }
}

@Suite struct AddressRangeTests {
    @Test func sizes() throws {
        #expect(AddressRange(try CIDR(parsing: "192.0.2.0/24")).size == 256)
        #expect(AddressRange(first: IPAddress("10.0.0.5")!, last: IPAddress("10.0.0.5")!)!.size == 1)
        #expect(AddressRange(try CIDR(parsing: "2001:db8::/120")).size == 256)
        #expect(AddressRange(try CIDR(parsing: "2001:db8::/64")).size == .max)
        #expect(AddressRange(first: IPAddress("2001:db8::ffff:ffff:ffff:fff0")!, last: IPAddress("2001:db8:0:1::f")!)!.size == 32)
        #expect(AddressRange(first: IPAddress("10.0.0.5")!, last: IPAddress("10.0.0.4")!) == nil)
        #expect(AddressRange(first: IPAddress("10.0.0.5")!, last: IPAddress("::1")!) == nil)
    }

    @Test func describesAsCIDRWhenExact() throws {
        #expect(AddressRange(try CIDR(parsing: "192.0.2.0/24")).description == "192.0.2.0/24")
        #expect(AddressRange(first: IPAddress("10.0.0.5")!, last: IPAddress("10.0.0.9")!)!.description == "10.0.0.5-10.0.0.9")
    }

    @Test func buggyIPsSkipped() throws {
        let pool = AddressPool(name: "p", ranges: [AddressRange(try CIDR(parsing: "10.0.0.0/23"))], avoidBuggyIPs: true)
        #expect(!pool.allows(IPAddress("10.0.0.0")!))
        #expect(!pool.allows(IPAddress("10.0.0.255")!))
        #expect(pool.allows(IPAddress("10.0.1.1")!))
        #expect(!pool.allows(IPAddress("10.0.2.1")!))
    }
}
