// The Grafana dashboard. With the default _config this is what examples/ ships
// (tests/it/mixin.rs checks it); scripts/mixin.sh writes the files for another _config.
local selector = import 'selector.libsonnet';

{
  local m(name, matchers='') = selector.metric($._config.consumptionExporterSelector, name, matchers),

  grafanaDashboards+:: {
    'consumption-dashboard.json': {
      __inputs: [
        {
          name: 'DS_PROMETHEUS',
          label: 'Prometheus',
          type: 'datasource',
          pluginId: 'prometheus',
          pluginName: 'Prometheus',
        },
      ],
      __requires: [
        {
          type: 'grafana',
          id: 'grafana',
          name: 'Grafana',
          version: '9.0.0',
        },
        {
          type: 'datasource',
          id: 'prometheus',
          name: 'Prometheus',
          version: '1.0.0',
        },
      ],
      title: 'SaaS consumption',
      uid: 'consumption-exporter',
      tags: [
        'consumption_exporter',
        'licensing',
      ],
      timezone: 'utc',
      schemaVersion: 37,
      version: 1,
      editable: true,
      refresh: '5m',
      time: {
        from: 'now-7d',
        to: 'now',
      },
      templating: {
        list: [
          {
            name: 'datasource',
            type: 'datasource',
            query: 'prometheus',
            label: 'Data source',
            current: {
              text: '${DS_PROMETHEUS}',
              value: '${DS_PROMETHEUS}',
            },
          },
          {
            name: 'source',
            type: 'query',
            label: 'Source',
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            query: {
              query: std.format('label_values(%s, source)', [m('consumption_source_up')]),
              refId: 'source',
            },
            definition: std.format('label_values(%s, source)', [m('consumption_source_up')]),
            refresh: 2,
            multi: true,
            includeAll: true,
            allValue: '.*',
            current: {
              text: 'All',
              value: '$__all',
            },
            sort: 1,
          },
        ],
      },
      annotations: {
        list: [],
      },
      panels: [
        {
          id: 1,
          type: 'row',
          title: 'Overview',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 0,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 2,
          title: 'Sources up',
          type: 'stat',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 1,
            w: 8,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_source_up', 'source=~"$source"')]),
              legendFormat: '{{source}} ({{vendor}})',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 3,
          title: 'Overage and blocked states (current period)',
          type: 'stat',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 8,
            y: 1,
            w: 8,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('max by (source) (%s)', [m('consumption_qlik_overage', 'source=~"$source",period="current"')]),
              legendFormat: '{{source}} overage',
            },
            {
              refId: 'B',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('max by (source) (%s)', [m('consumption_qlik_blocked', 'source=~"$source",period="current"')]),
              legendFormat: '{{source}} blocked',
            },
            {
              refId: 'C',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_qlik_tenant_overage', 'source=~"$source"')]),
              legendFormat: '{{source}} tenant overage',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 4,
          title: 'Power Automate users exceeding capacity',
          type: 'stat',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 16,
            y: 1,
            w: 8,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source) (%s)', [m('consumption_powerplatform_users', 'source=~"$source",status="exceeding_capacity"')]),
              legendFormat: '{{source}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 5,
          type: 'row',
          title: 'Budgets',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 9,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 6,
          title: 'Budget used against its limit',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 10,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s / (%s > 0) and on(source, vendor, budget, unit, origin) %s', [m('consumption_budget_used', 'source=~"$source"'), m('consumption_budget_limit', 'source=~"$source"'), m('consumption_budget_warn_ratio')]),
              legendFormat: '{{source}} {{budget}} ({{unit}}, {{origin}})',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'percentunit',
              thresholds: {
                mode: 'absolute',
                steps: [
                  {
                    color: 'green',
                    value: null,
                  },
                  {
                    color: 'orange',
                    value: 0.8,
                  },
                  {
                    color: 'red',
                    value: 1,
                  },
                ],
              },
              min: 0,
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 7,
          title: 'Forecast against limit (end of period)',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 10,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s / (%s > 0) and on(source, vendor, budget, unit, origin) %s', [m('consumption_budget_forecast', 'source=~"$source"'), m('consumption_budget_limit', 'source=~"$source"'), m('consumption_budget_warn_ratio')]),
              legendFormat: '{{source}} {{budget}} ({{unit}}, {{origin}})',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'percentunit',
              thresholds: {
                mode: 'absolute',
                steps: [
                  {
                    color: 'green',
                    value: null,
                  },
                  {
                    color: 'orange',
                    value: 0.8,
                  },
                  {
                    color: 'red',
                    value: 1,
                  },
                ],
              },
              min: 0,
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 8,
          title: 'Days left in the budget period',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 18,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('(%s - time()) / 86400', [m('consumption_budget_period_end_timestamp_seconds', 'source=~"$source"')]),
              legendFormat: '{{source}} {{budget}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
              decimals: 1,
              min: 0,
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 9,
          title: 'Spend by currency across vendors',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 18,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (unit) (%s unless on(source, vendor, budget, unit, origin) %s)', [m('consumption_budget_used', 'source=~"$source"'), m('consumption_budget_warn_ratio')]),
              legendFormat: 'used {{unit}}',
            },
            {
              refId: 'B',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (unit) (%s unless on(source, vendor, budget, unit, origin) %s)', [m('consumption_budget_forecast', 'source=~"$source"'), m('consumption_budget_warn_ratio')]),
              legendFormat: 'forecast {{unit}}',
            },
            {
              refId: 'C',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (unit) (%s unless on(source, vendor, budget, unit, origin) %s)', [m('consumption_budget_limit', 'source=~"$source"'), m('consumption_budget_warn_ratio')]),
              legendFormat: 'limit {{unit}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 10,
          type: 'row',
          title: 'Qlik Cloud',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 26,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 11,
          title: 'Capacity used (current period)',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 27,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption:qlik_capacity_used:ratio', 'source=~"$source"')]),
              legendFormat: '{{source}} {{resource_type}}/{{resource_action}} {{period_type}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'percentunit',
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 12,
          title: 'Usage against limits (current period)',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 27,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, resource_type, unit) (%s)', [m('consumption_qlik_local_usage', 'source=~"$source",period="current"')]),
              legendFormat: '{{source}} {{resource_type}} used ({{unit}})',
            },
            {
              refId: 'B',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, resource_type, unit) (%s)', [m('consumption_qlik_capacity_limit', 'source=~"$source",period="current"')]),
              legendFormat: '{{source}} {{resource_type}} limit ({{unit}})',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 13,
          type: 'row',
          title: 'Power Platform',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 35,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 14,
          title: 'Flow capacity units, month to date',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 36,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, environment_id, flow_context) (%s)', [m('consumption_powerplatform_flow_capacity_units', 'source=~"$source",window="month_to_date"')]),
              legendFormat: '{{source}} {{environment_id}} {{flow_context}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 15,
          title: 'Users by licensing status',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 36,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_powerplatform_users', 'source=~"$source"')]),
              legendFormat: '{{source}} {{flow_context}} {{status}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 16,
          type: 'row',
          title: 'UiPath',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 44,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 17,
          title: 'Consumed units, month to date',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 45,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption:uipath_consumed_units:month_to_date', 'source=~"$source"')]),
              legendFormat: '{{source}} {{tenant_id}} {{consumable}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 18,
          title: 'Consumed units today by service',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 45,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, consumable, uipath_service) (%s)', [m('consumption_uipath_consumed_units', 'source=~"$source",window="today"')]),
              legendFormat: '{{consumable}} {{uipath_service}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 19,
          type: 'row',
          title: 'Dynatrace',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 53,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 20,
          title: 'Platform subscription usage, month to date',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 54,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, capability_name, unit) (%s)', [m('consumption_dynatrace_usage', 'source=~"$source",window="month_to_date"')]),
              legendFormat: '{{source}} {{capability_name}} ({{unit}})',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 21,
          title: 'Vendor API sunset dates',
          type: 'stat',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 54,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s * 1000', [m('consumption_source_api_sunset_timestamp_seconds', 'source=~"$source"')]),
              legendFormat: '{{source}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'dateTimeAsIso',
            },
            overrides: [],
          },
          options: {},
          description: 'The Sunset date a vendor announced for the endpoint a source polls (Dynatrace v2 announces one). No data: no announced sunset.',
        },
        {
          id: 22,
          type: 'row',
          title: 'AvePoint',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 62,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 23,
          title: 'Distinct connections per flow, by environment',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 63,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, environment_id) (%s)', [m('consumption_avepoint_flow_connections', 'source=~"$source"')]),
              legendFormat: '{{source}} {{environment_id}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 24,
          title: 'Connection usage records',
          type: 'stat',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 63,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_avepoint_connection_usage_records', 'source=~"$source"')]),
              legendFormat: '{{source}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 25,
          type: 'row',
          title: 'Exporter health',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 71,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 26,
          title: 'Data age',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 72,
            w: 8,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('time() - %s', [m('consumption_source_last_success_timestamp_seconds', 'source=~"$source"')]),
              legendFormat: '{{source}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 's',
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 27,
          title: 'Poll duration',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 8,
            y: 72,
            w: 8,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_source_poll_duration_seconds', 'source=~"$source"')]),
              legendFormat: '{{source}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 's',
            },
            overrides: [],
          },
          options: {},
        },
        {
          id: 28,
          title: 'Failed polls and throttling per hour',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 16,
            y: 72,
            w: 8,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source) (increase(%s[1h])) or on(source) (0 * %s)', [m('consumption_source_errors_total', 'source=~"$source"'), m('consumption_source_up', 'source=~"$source"')]),
              legendFormat: '{{source}} failed polls',
            },
            {
              refId: 'B',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source) (increase(%s[1h]))', [m('consumption_source_throttled_total', 'source=~"$source"')]),
              legendFormat: '{{source}} throttled',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 29,
          title: 'Series served',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 80,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_source_series', 'source=~"$source"')]),
              legendFormat: '{{source}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 30,
          title: 'Vendor requests per hour by endpoint and status',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 80,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, api_endpoint, code) (increase(%s[1h]))', [m('consumption_source_requests_total', 'source=~"$source"')]),
              legendFormat: '{{source}} {{api_endpoint}} {{code}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
        },
        {
          id: 31,
          title: 'Vendor traffic per hour',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 88,
            w: 24,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, api_endpoint) (increase(%s[1h]))', [m('consumption_source_response_bytes_total', 'source=~"$source"')]),
              legendFormat: '{{source}} {{api_endpoint}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'bytes',
            },
            overrides: [],
          },
          options: {},
          description: "Response bytes read from each vendor by endpoint (consumption_source_response_bytes_total): what each endpoint of a source costs its vendor's API. Incremental polling (settled_after) keeps usage low; a jump means a full refresh or a growing tenant.",
        },
        {
          id: 32,
          title: 'Polls in flight, per replica',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 96,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('%s', [m('consumption_exporter_polls_in_flight')]),
              legendFormat: '{{instance}}',
            },
          ],
          fieldConfig: {
            defaults: {},
            overrides: [],
          },
          options: {},
          description: 'Polls running now (consumption_exporter_polls_in_flight), at most global.max_concurrent_polls. A replica that stays at its maximum has more sources than slots: raise max_concurrent_polls, or add a shard.',
        },
        {
          id: 33,
          title: 'Exporter memory, per replica',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 96,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('process_resident_memory_bytes and on(instance, job) %s', [m('consumption_exporter_build_info')]),
              legendFormat: '{{instance}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'bytes',
            },
            overrides: [],
          },
          options: {},
          description: 'Resident memory of each exporter process: about 400 bytes a series and 50 KiB a source beyond a 12 MiB base (docs/performance.md).',
        },
        {
          id: 34,
          type: 'row',
          title: 'Showback',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 104,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 35,
          title: 'Spend this month by allocation',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 105,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (%s, currency) (%s)', [$._config.showbackDimension, m('consumption_cost', 'window=~"month_to_date|period"')]),
              legendFormat: std.format('{{%s}} {{currency}}', [$._config.showbackDimension]),
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: 'Money consumed this month (Qlik: its current period) by the allocation dimension _config.showbackDimension names, in the reporting currency (consumption_cost; docs/showback.md).',
        },
        {
          id: 36,
          title: 'Spend this month by vendor',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 105,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (vendor, currency) (%s)', [m('consumption_cost', 'window=~"month_to_date|period"')]),
              legendFormat: '{{vendor}} {{currency}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: 'Money consumed this month (Qlik: its current period) by vendor, in the reporting currency.',
        },
        {
          id: 37,
          title: 'Top services this month',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 113,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('topk(10, sum by (vendor, service, currency) (%s))', [m('consumption_cost', 'window=~"month_to_date|period"')]),
              legendFormat: '{{vendor}} {{service}} {{currency}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: 'The ten services that cost most this month.',
        },
        {
          id: 38,
          title: 'Unallocated share of spend',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 113,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum(%s) / sum(%s)', [m('consumption_cost', std.format('window=~"month_to_date|period", %s="%s"', [$._config.showbackDimension, $._config.showbackUnallocated])), m('consumption_cost', 'window=~"month_to_date|period"')]),
              legendFormat: 'unallocated',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'percentunit',
            },
            overrides: [],
          },
          options: {},
          description: "The share of this month's spend that no allocation rule claims: what the vendors do not say whose it is, or what no rule matches yet.",
        },
        {
          id: 39,
          type: 'row',
          title: 'Seats',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 121,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 40,
          title: 'Seats bought, assigned and idle',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 122,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (vendor, licence) (%s)', [m('consumption_seats_purchased')]),
              legendFormat: 'bought {{vendor}} {{licence}}',
            },
            {
              refId: 'B',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (vendor, licence) (%s)', [m('consumption_seats_assigned')]),
              legendFormat: 'assigned {{vendor}} {{licence}}',
            },
            {
              refId: 'C',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (vendor, licence) (%s)', [m('consumption_seats_idle')]),
              legendFormat: 'idle {{vendor}} {{licence}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: 'Seats per licence and vendor: bought, assigned, and assigned without activity within the source idle_after (docs/seats.md).',
        },
        {
          id: 41,
          title: 'Idle share of assigned seats',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 122,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (vendor, licence) (%s) / (sum by (vendor, licence) (%s) > 0)', [m('consumption_seats_idle'), m('consumption_seats_assigned')]),
              legendFormat: '{{vendor}} {{licence}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'percentunit',
            },
            overrides: [],
          },
          options: {},
          description: 'Idle seats as a share of the assigned ones, for the licences whose vendor reports activity.',
        },
        {
          id: 42,
          title: 'Monthly money of idle seats',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 130,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (vendor, licence, currency) (%s)', [m('consumption_seats_idle_cost')]),
              legendFormat: '{{vendor}} {{licence}} {{currency}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: 'Idle seats times their seat price (a money.prices item that names licence), per month.',
        },
        {
          id: 43,
          title: 'Days until a licence ends',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 130,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('(%s - time()) / 86400', [m('consumption_licence_end_timestamp_seconds')]),
              legendFormat: '{{source}} {{licence}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'd',
            },
            overrides: [],
          },
          options: {},
          description: 'Days left until each licence, bundle or commitment a vendor reports ends.',
        },
        {
          id: 44,
          type: 'row',
          title: 'Waste',
          collapsed: false,
          gridPos: {
            x: 0,
            y: 138,
            w: 24,
            h: 1,
          },
          panels: [],
        },
        {
          id: 45,
          title: 'Yesterday against its 28-day median',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 139,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: 'consumption:usage_by_service:yesterday / consumption:usage_by_service:median_28d',
              legendFormat: '{{source}} {{service}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: "Each service's usage yesterday (UTC) as a multiple of the median day of the 28 days before it. ConsumptionSpendAnomaly fires well above both the median and the usual spread (docs/prometheus.md); the baseline needs 14 days of history, which backfill gives on day one.",
        },
        {
          id: 46,
          title: 'Commitments: committed and not used at period end',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 139,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('(%s - %s) and %s', [m('consumption_budget_limit'), m('consumption_budget_forecast'), m('consumption_budget_shortfall_ratio')]),
              legendFormat: '{{source}} {{budget}} ({{unit}})',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: "For each budget with a shortfall_ratio (a commitment): its limit less its forecast at the period's end, in the budget's unit: what will be paid and not used at the current rate. ConsumptionCommitmentUnderused fires past half the period when the forecast is under the ratio.",
        },
        {
          id: 47,
          title: 'Renewals in the next 90 days',
          type: 'bargauge',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 0,
            y: 147,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('(%s - time()) / 86400 < 90', [m('consumption_licence_end_timestamp_seconds')]),
              legendFormat: '{{source}} {{licence}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'd',
            },
            overrides: [],
          },
          options: {},
          description: 'Days until each licence, bundle or subscription period ends, for those ending within 90 days: ConsumptionRenewalDue informs at 90 days and warns at 30.',
        },
        {
          id: 48,
          title: 'Idle seats and their money',
          type: 'timeseries',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          gridPos: {
            x: 12,
            y: 147,
            w: 12,
            h: 8,
          },
          targets: [
            {
              refId: 'A',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, licence) (%s)', [m('consumption_seats_idle')]),
              legendFormat: 'idle {{source}} {{licence}}',
            },
            {
              refId: 'B',
              datasource: {
                type: 'prometheus',
                uid: '${datasource}',
              },
              expr: std.format('sum by (source, licence, currency) (%s)', [m('consumption_seats_idle_cost')]),
              legendFormat: '{{currency}} a month {{source}} {{licence}}',
            },
          ],
          fieldConfig: {
            defaults: {
              unit: 'none',
            },
            overrides: [],
          },
          options: {},
          description: 'Idle seats per source and licence, and their monthly money where a seat price is set. ConsumptionSeatsIdle fires when idle seats are over a share of the assigned ones for a day; `consumption_exporter seats` lists who holds them.',
        },
      ],
    },
  },
}
