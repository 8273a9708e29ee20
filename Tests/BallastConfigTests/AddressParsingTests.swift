import BallastCore
import Testing
@testable import BallastConfig

/// The decoders' byte-level reading of IPv4 addresses agrees with BallastCore's.
@Suite struct AddressParsingTests {
    @Test(arguments: [
        "10.0.0.1", "0.0.0.0", "255.255.255.255", "192.0.2.10", "1.2.3.4",
        "10.0.0.256", "10.0.0", "10.0.0.1.2", "10.0.0.", ".10.0.0", "10..0.1", "010.0.0.1", "10.0.0.01", "1000.0.0.1",
        "10.0.0.1 ", " 10.0.0.1", "10.0.0.a", "", "a", "10.0.0.٣", "::1", "2001:db8::1", "::ffff:10.0.0.1", "1.2.3.4/32",
    ])
    func dottedQuadsAgree(text: String) {
        #expect(ManifestDecoding.dottedQuad(text) == IPv4Address(text))
    }
}
