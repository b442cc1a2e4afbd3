// The recording rules and alerts. With the default _config this is what examples/ ships
// (tests/it/mixin.rs checks it); scripts/mixin.sh writes the files for another _config.
local selector = import 'selector.libsonnet';

{
  local m(name, matchers='') = selector.metric($._config.consumptionExporterSelector, name, matchers),

  prometheusRules+:: { groups+: [
    {
      name: 'consumption.records',
      rules: [
        {
          record: 'consumption:qlik_capacity_used:ratio',
          expr: std.format('%s\n  / on(source, resource_type, resource_action, period_type, unit, period)\n(%s > 0)\n', [m('consumption_qlik_local_usage', 'period="current"'), m('consumption_qlik_capacity_limit', 'period="current"')]),
        },
        {
          record: 'consumption:source_data_age:seconds',
          expr: std.format('time() - %s', [m('consumption_source_last_success_timestamp_seconds')]),
        },
        {
          record: 'consumption:uipath_consumed_units:month_to_date',
          expr: std.format('sum by (source, tenant_id, consumable) (%s)', [m('consumption_uipath_consumed_units', 'window="month_to_date"')]),
        },
        {
          record: std.format('consumption:cost_by_%s:month_to_date', [$._config.showbackDimension]),
          // Once per target, as usage: two replicas scraping one exporter are not twice the spend.
          expr: std.format('sum by (%s, currency) (max without (job, instance) (%s))', [$._config.showbackDimension, m('consumption_cost', 'window=~"month_to_date|period"')]),
        },
        {
          record: 'consumption:cost_by_vendor:month_to_date',
          expr: std.format('sum by (vendor, currency) (max without (job, instance) (%s))', [m('consumption_cost', 'window=~"month_to_date|period"')]),
        },
        {
          record: 'consumption:budget_used:ratio',
          expr: std.format('%s / (%s > 0)', [m('consumption_budget_used'), m('consumption_budget_limit')]),
        },
        {
          record: 'consumption:budget_exhausted:timestamp_seconds',
          expr: std.format('time()\n  + (%s - %s)\n  / (\n      (%s - %s)\n      / (%s - time())\n      > 0\n    )\n', [m('consumption_budget_limit'), m('consumption_budget_used'), m('consumption_budget_forecast'), m('consumption_budget_used'), m('consumption_budget_period_end_timestamp_seconds')]),
        },
      ],
    },
    {
      // A day's usage against the 28 days before it, evaluated at each UTC midnight of the
      // window (a subquery step of 1d): the baseline changes once a day, so the group runs
      // every 5 minutes. The spend-anomaly alert is evaluated here, after the series it
      // compares: rules of one group run in order, so it never reads a record another group
      // has not written yet at this instant (older than the 5-minute lookback, it would vanish).
      name: 'consumption.baseline',
      interval: '5m',
      local yesterday = std.format('sum by (source, vendor, service, unit) (max without (job, instance) (%s))', [m('consumption_usage', 'window="yesterday"')]),
      local over28d(fn) = std.format('%s(%s[28d:1d] offset 1d)', [fn, yesterday]),
      rules: [
        {
          record: 'consumption:usage_by_service:yesterday',
          // Over the allocation dimensions, once per target: a second scrape of the same
          // exporter (a replica, a backfill) is not more usage.
          expr: yesterday,
        },
        {
          record: 'consumption:usage_by_service:median_28d',
          expr: std.format('quantile_over_time(0.5, %s[28d:1d] offset 1d)', [yesterday]),
        },
        {
          record: 'consumption:usage_by_service:mean_28d',
          expr: over28d('avg_over_time'),
        },
        {
          record: 'consumption:usage_by_service:stddev_28d',
          expr: over28d('stddev_over_time'),
        },
        {
          record: 'consumption:usage_by_service:days_28d',
          expr: over28d('count_over_time'),
        },
        {
          // Above both: well above the median (a flat series' small bump stays under it)
          // and several deviations above the mean (a noisy series' usual peaks stay under it).
          record: 'consumption:usage_by_service:anomaly_threshold',
          expr: std.format('(\n  %(factor)s * consumption:usage_by_service:median_28d\n    > consumption:usage_by_service:mean_28d + %(deviations)s * consumption:usage_by_service:stddev_28d\n  or consumption:usage_by_service:mean_28d + %(deviations)s * consumption:usage_by_service:stddev_28d\n)\nand consumption:usage_by_service:days_28d >= %(days)s\n', {
            factor: $._config.anomalyMedianFactor,
            deviations: $._config.anomalyDeviations,
            days: $._config.anomalyMinDays,
          }),
        },
        {
          alert: 'ConsumptionSpendAnomaly',
          expr: 'consumption:usage_by_service:yesterday > consumption:usage_by_service:anomaly_threshold',
          labels: {
            severity: 'warning',
            category: 'finops',
          },
          annotations: {
            summary: '{{ $labels.source }}: {{ $labels.service }} used {{ with printf "consumption:usage_by_service:yesterday{source=%q,service=%q,unit=%q} / consumption:usage_by_service:median_28d{source=%q,service=%q,unit=%q}" $labels.source $labels.service $labels.unit $labels.source $labels.service $labels.unit | query }}{{ . | first | value | printf "%.1f" }}×{{ end }} its usual day yesterday',
            description: 'Service {{ $labels.service }} of {{ $labels.vendor }} source {{ $labels.source }} used {{ $value | humanize }} {{ $labels.unit }} yesterday (UTC), against a median of {{ with printf "consumption:usage_by_service:median_28d{source=%q,service=%q,unit=%q}" $labels.source $labels.service $labels.unit | query }}{{ . | first | value | humanize }}{{ end }} {{ $labels.unit }} a day over the 28 days before ({{ with printf "consumption:usage_by_service:yesterday{source=%q,service=%q,unit=%q} / consumption:usage_by_service:median_28d{source=%q,service=%q,unit=%q}" $labels.source $labels.service $labels.unit $labels.source $labels.service $labels.unit | query }}{{ . | first | value | printf "%.1f" }}× the median{{ end }}){{ range printf "sum by (currency) (consumption_cost{window=\\"yesterday\\",source=%q,service=%q})" $labels.source $labels.service | query }}; it cost {{ . | value | humanize }} {{ .Labels.currency }}{{ end }}. Find the automation or job behind it before the month adds it up.',
          },
        },
      ],
    },
  ] },
  prometheusAlerts+:: { groups+: [
    {
      name: 'consumption.alerts',
      rules: [
        {
          alert: 'ConsumptionQlikOverage',
          expr: std.format('max by (source, resource_type, resource_action, period_type, unit) (%s) == 1', [m('consumption_qlik_overage', 'period="current"')]),
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Qlik Cloud {{ $labels.resource_type }}/{{ $labels.resource_action }} is in overage on {{ $labels.source }}',
            description: 'Qlik reports overage for {{ $labels.resource_type }} {{ $labels.resource_action }} ({{ $labels.period_type }} period, {{ $labels.unit }}) on source {{ $labels.source }}. Usage beyond the capacity is billed.',
          },
        },
        {
          alert: 'ConsumptionQlikTenantOverage',
          expr: std.format('%s == 1', [m('consumption_qlik_tenant_overage')]),
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Qlik Cloud tenant {{ $labels.source }} is in overage',
            description: 'The tenant-level overage flag of Qlik Cloud consumption is set on {{ $labels.source }}.',
          },
        },
        {
          alert: 'ConsumptionQlikBlocked',
          expr: std.format('max by (source, resource_type, resource_action, period_type, unit) (%s) == 1', [m('consumption_qlik_blocked', 'period="current"')]),
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Qlik Cloud blocks {{ $labels.resource_type }}/{{ $labels.resource_action }} on {{ $labels.source }}',
            description: 'Qlik reports that {{ $labels.resource_type }} {{ $labels.resource_action }} is blocked on source {{ $labels.source }}: the capacity is used up and the action is refused.',
          },
        },
        {
          alert: 'ConsumptionCapacityNearLimit',
          expr: std.format('%s >= 0.8 < 1', [m('consumption:qlik_capacity_used:ratio')]),
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ $labels.source }}: {{ $labels.resource_type }}/{{ $labels.resource_action }} at {{ $value | humanizePercentage }} of its capacity',
            description: 'The current {{ $labels.period_type }} period of {{ $labels.resource_type }} {{ $labels.resource_action }} on {{ $labels.source }} has used {{ $value | humanizePercentage }} of its capacity limit.',
          },
        },
        {
          alert: 'ConsumptionCapacityForecastExhausted',
          expr: std.format('(\n  predict_linear(%s[12h], 3 * 86400)\n    > on(source, resource_type, resource_action, period_type, unit, period)\n  %s\n)\nand on(source, resource_type, resource_action, period_type, unit, period)\n(%s - time() > 3 * 86400)\nunless on(source, resource_type, resource_action, period_type, unit, period)\n(%s == 1)\n', [m('consumption_qlik_local_usage', 'period="current"'), m('consumption_qlik_capacity_limit', 'period="current"'), m('consumption_qlik_period_end_timestamp_seconds', 'period="current"'), m('consumption_qlik_overage', 'period="current"')]),
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ $labels.source }}: {{ $labels.resource_type }}/{{ $labels.resource_action }} is forecast to exceed its capacity before the period ends',
            description: 'At the rate of the last 12 hours, {{ $labels.resource_type }} {{ $labels.resource_action }} on {{ $labels.source }} passes its capacity limit within 3 days, before its {{ $labels.period_type }} period ends.',
          },
        },
        {
          alert: 'ConsumptionBudgetNearLimit',
          expr: std.format('%s / (%s > 0)\n  >= on(source, vendor, budget, unit, origin) %s\n', [m('consumption_budget_used'), m('consumption_budget_limit'), m('consumption_budget_warn_ratio')]),
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ with $labels.source }}{{ . }}{{ else }}all sources{{ end }}: budget {{ $labels.budget }} is at {{ $value | humanizePercentage }} of its limit',
            description: "Budget {{ $labels.budget }} {{ if $labels.source }}of {{ $labels.vendor }} source {{ $labels.source }}{{ else }}across sources{{ end }} ({{ $labels.origin }}) has used {{ with printf \"consumption_budget_used{source=%q,budget=%q,unit=%q,origin=%q}\" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }} of {{ with printf \"consumption_budget_limit{source=%q,budget=%q,unit=%q,origin=%q}\" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }} {{ $labels.unit }} in the period ending {{ with printf \"consumption_budget_period_end_timestamp_seconds{source=%q,budget=%q,unit=%q,origin=%q}\" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanizeTimestamp }}{{ else }}when the vendor's period ends{{ end }}.",
          },
        },
        {
          alert: 'ConsumptionBudgetExceeded',
          expr: std.format('%s\n  and on(source, vendor, budget, unit, origin) (%s == 1)\n', [m('consumption_budget_used'), m('consumption_budget_overage')]),
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: '{{ with $labels.source }}{{ . }}{{ else }}all sources{{ end }}: budget {{ $labels.budget }} is exceeded',
            description: "Budget {{ $labels.budget }} {{ if $labels.source }}of {{ $labels.vendor }} source {{ $labels.source }}{{ else }}across sources{{ end }} ({{ $labels.origin }}) has used {{ $value | humanize }} of its limit of {{ with printf \"consumption_budget_limit{source=%q,budget=%q,unit=%q,origin=%q}\" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }} {{ $labels.unit }} in the period ending {{ with printf \"consumption_budget_period_end_timestamp_seconds{source=%q,budget=%q,unit=%q,origin=%q}\" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanizeTimestamp }}{{ else }}when the vendor's period ends{{ end }}. What is used beyond it is billed as overage.",
          },
        },
        {
          alert: 'ConsumptionBudgetForecastExceeded',
          expr: std.format('(\n  %s > %s\n  and %s < %s\n)\nand on(source, vendor, budget, unit, origin) %s\n', [m('consumption_budget_forecast'), m('consumption_budget_limit'), m('consumption_budget_used'), m('consumption_budget_limit'), m('consumption_budget_warn_ratio')]),
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ with $labels.source }}{{ . }}{{ else }}all sources{{ end }}: budget {{ $labels.budget }} is forecast to be exceeded before its period ends',
            description: 'At the rate of the last 7 days, budget {{ $labels.budget }} {{ if $labels.source }}of {{ $labels.vendor }} source {{ $labels.source }}{{ else }}across sources{{ end }} reaches {{ $value | humanize }} {{ $labels.unit }} by the end of its period ({{ with printf "consumption_budget_period_end_timestamp_seconds{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanizeTimestamp }}{{ end }}), over its limit of {{ with printf "consumption_budget_limit{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }}; used so far: {{ with printf "consumption_budget_used{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }}.',
          },
        },
        {
          alert: 'ConsumptionLicenseExpiringSoon',
          expr: std.format('%s - time()\n  < 30 * 86400\nor\nlabel_replace(\n  label_replace(%s - time() < 30 * 86400, "vendor", "qlik", "", ""),\n  "budget", "licence", "", ""\n)\n', [m('consumption_budget_period_end_timestamp_seconds', 'origin="vendor", vendor="dynatrace", budget=~"commitment(-.+)?"'), m('consumption_qlik_license_end_timestamp_seconds')]),
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ $labels.source }}: the {{ $labels.vendor }} {{ $labels.budget }} period ends in {{ $value | humanizeDuration }}',
            description: 'The current {{ $labels.budget }} period of {{ $labels.vendor }} source {{ $labels.source }} ends in {{ $value | humanizeDuration }}. Renew it before then. Deprecated: ConsumptionRenewalDue covers every licence end, 90 and 30 days ahead; this alert goes in the next release.',
          },
        },
        {
          alert: 'ConsumptionCommitmentUnderused',
          expr: std.format('(\n  %(forecast)s < %(ratio)s * %(limit)s\n)\nand (time() - %(start)s)\n  > 0.5 * (%(end)s - %(start)s)\n', {
            forecast: m('consumption_budget_forecast'),
            ratio: m('consumption_budget_shortfall_ratio'),
            limit: m('consumption_budget_limit'),
            start: m('consumption_budget_period_start_timestamp_seconds'),
            end: m('consumption_budget_period_end_timestamp_seconds'),
          }),
          labels: {
            severity: 'warning',
            category: 'finops',
          },
          annotations: {
            summary: '{{ with $labels.source }}{{ . }}{{ else }}all sources{{ end }}: commitment {{ $labels.budget }} is on course to end under-used',
            description: 'At the rate of the last 7 days, budget {{ $labels.budget }} {{ if $labels.source }}of {{ $labels.vendor }} source {{ $labels.source }}{{ else }}across sources{{ end }} reaches {{ $value | humanize }} {{ $labels.unit }} by the end of its period ({{ with printf "consumption_budget_period_end_timestamp_seconds{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanizeTimestamp }}{{ end }}), under {{ with printf "consumption_budget_shortfall_ratio{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanizePercentage }}{{ end }} of its limit of {{ with printf "consumption_budget_limit{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }}: {{ with printf "consumption_budget_limit{source=%q,budget=%q,unit=%q,origin=%q} - consumption_budget_forecast{source=%q,budget=%q,unit=%q,origin=%q}" $labels.source $labels.budget $labels.unit $labels.origin $labels.source $labels.budget $labels.unit $labels.origin | query }}{{ . | first | value | humanize }}{{ end }} {{ $labels.unit }} committed will be paid and not used.',
          },
        },
        {
          alert: 'ConsumptionRenewalDue',
          expr: std.format('%s - time() < 30 * 86400', [m('consumption_licence_end_timestamp_seconds')]),
          labels: {
            severity: 'warning',
            category: 'finops',
            within: '30d',
          },
          annotations: {
            summary: '{{ $labels.source }}: {{ $labels.licence }} ends in {{ $value | humanizeDuration }}',
            description: '{{ $labels.licence }} of {{ $labels.vendor }} source {{ $labels.source }} ends on {{ with printf "consumption_licence_end_timestamp_seconds{source=%q,licence=%q,sub_account=%q}" $labels.source $labels.licence $labels.sub_account | query }}{{ . | first | value | humanizeTimestamp }}{{ end }}, in {{ $value | humanizeDuration }}. Renew it, resized to what is used: idle seats and an under-used commitment are in the Waste row.',
          },
        },
        {
          alert: 'ConsumptionRenewalDue',
          expr: std.format('%(end)s - time() < 90 * 86400\nunless %(end)s - time() < 30 * 86400\n', { end: m('consumption_licence_end_timestamp_seconds') }),
          labels: {
            severity: 'info',
            category: 'finops',
            within: '90d',
          },
          annotations: {
            summary: '{{ $labels.source }}: {{ $labels.licence }} ends in {{ $value | humanizeDuration }}',
            description: '{{ $labels.licence }} of {{ $labels.vendor }} source {{ $labels.source }} ends on {{ with printf "consumption_licence_end_timestamp_seconds{source=%q,licence=%q,sub_account=%q}" $labels.source $labels.licence $labels.sub_account | query }}{{ . | first | value | humanizeTimestamp }}{{ end }}, in {{ $value | humanizeDuration }}: time to review what it is used for before the renewal.',
          },
        },
        {
          alert: 'ConsumptionSeatsIdle',
          expr: std.format('%s / (%s > 0) > %s', [m('consumption_seats_idle'), m('consumption_seats_assigned'), $._config.idleSeatsShare]),
          'for': '24h',
          labels: {
            severity: 'warning',
            category: 'finops',
          },
          annotations: {
            summary: '{{ $labels.source }}: {{ $value | humanizePercentage }} of the assigned {{ $labels.licence }} seats are idle',
            description: '{{ with printf "consumption_seats_idle{source=%q,licence=%q,sub_account=%q}" $labels.source $labels.licence $labels.sub_account | query }}{{ . | first | value | humanize }}{{ end }} of {{ with printf "consumption_seats_assigned{source=%q,licence=%q,sub_account=%q}" $labels.source $labels.licence $labels.sub_account | query }}{{ . | first | value | humanize }}{{ end }} assigned {{ $labels.licence }} seats of {{ $labels.vendor }} source {{ $labels.source }} have been idle for a day{{ range printf "consumption_seats_idle_cost{source=%q,licence=%q,sub_account=%q}" $labels.source $labels.licence $labels.sub_account | query }}, {{ . | value | humanize }} {{ .Labels.currency }} a month{{ end }}. `consumption_exporter seats` lists who holds them.',
          },
        },
        {
          alert: 'ConsumptionPowerPlatformUsersExceedingCapacity',
          expr: std.format('%s > 0', [m('consumption_powerplatform_users', 'status="exceeding_capacity"')]),
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ $value }} Power Automate users exceed their flow capacity on {{ $labels.source }}',
            description: "Power Platform's tenant summary counts {{ $value }} users in flow context {{ $labels.flow_context }} exceeding their per-flow capacity on {{ $labels.source }}.",
          },
        },
        {
          alert: 'ConsumptionSourceDown',
          expr: std.format('%s == 0', [m('consumption_source_up')]),
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Polling {{ $labels.vendor }} source {{ $labels.source }} fails',
            description: "The last polls of {{ $labels.source }} ({{ $labels.vendor }}) failed for 30 minutes. The exporter's landing page and logs name the error; consumption_source_errors_total has the reason.",
          },
        },
        {
          alert: 'ConsumptionSourceDataStale',
          expr: std.format('time() - %s > 3 * 3600', [m('consumption_source_last_success_timestamp_seconds')]),
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'No fresh {{ $labels.vendor }} data from {{ $labels.source }} for {{ $value | humanizeDuration }}',
            description: 'The last successful poll of {{ $labels.source }} ended {{ $value | humanizeDuration }} ago. Overage alerts for it cannot fire on data this old.',
          },
        },
        {
          alert: 'ConsumptionSourceThrottled',
          expr: std.format('increase(%s[1h]) > 5', [m('consumption_source_throttled_total')]),
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: '{{ $labels.vendor }} throttles the exporter on {{ $labels.source }}',
            description: "{{ $labels.vendor }} answered {{ $value | humanize }} requests of {{ $labels.source }} with throttling in the last hour. Raise the source's interval or narrow its queries.",
          },
        },
        {
          alert: 'ConsumptionApiSunsetSoon',
          expr: std.format('%s - time() < 30 * 86400', [m('consumption_source_api_sunset_timestamp_seconds')]),
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The API {{ $labels.source }} uses is retired in {{ $value | humanizeDuration }}',
            description: 'The vendor announced a Sunset date for the endpoint source {{ $labels.source }} polls. Move to its successor (for Dynatrace: api_version: v3) before then.',
          },
        },
        {
          alert: 'ConsumptionExporterDown',
          expr: std.format('%s == 0 and on(job, instance) last_over_time(%s[7d])', [m('up'), m('consumption_exporter_build_info')]),
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'consumption_exporter on {{ $labels.instance }} cannot be scraped',
            description: 'Prometheus has failed to scrape consumption_exporter at {{ $labels.instance }} for 10 minutes; no consumption alert can fire.',
          },
        },
      ],
    },
  ] },
}
