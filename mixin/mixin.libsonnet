// consumption_exporter's monitoring mixin: `_config`, `prometheusRules`, `prometheusAlerts` and
// `grafanaDashboards`, in the monitoring-mixins convention. Override `_config` to select the
// exporter's job:
//   (import 'mixin.libsonnet') + { _config+:: { consumptionExporterSelector: 'job="billing"' } }
(import 'config.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'dashboards.libsonnet')
