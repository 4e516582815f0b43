// Package monitoring holds no code: it is the directory of the Grafana
// dashboards (fleet.dashboard.json on the kiosks' metrics, kiosk/metrics;
// authority.dashboard.json on the authority's, authority/metrics) and the
// Prometheus alerting rules (kiosk.rules.yml, authority.rules.yml) shipped
// in the packages, with the rules' unit tests (*_test.yml, run by
// `promtool test rules`).
//
// Its Go test runs one demo visit on the simulated stack (sim/demo, the real
// kiosk and authority), scrapes both endpoints and checks them with
// `promtool check metrics`, asserts that the visit moved the visit counters
// and histograms, runs `promtool check rules` and `promtool test rules`, and
// checks that every dashboard panel's query and every rule names a metric
// one of the endpoints exports.
//
// It does not install anything: packaging/nfpm does, and Prometheus and
// Grafana are city IT's.
package monitoring
