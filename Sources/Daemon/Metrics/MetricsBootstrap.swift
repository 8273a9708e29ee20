import Metrics
import Prometheus

public enum MetricsBootstrap {
    /// Bootstraps swift-metrics with a Prometheus registry and returns it for
    /// the /metrics server. Call once, from main only (swift-metrics' rule:
    /// libraries never bootstrap).
    public static func prometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}
