{
  _config+:: {
    // Matchers that pick the exporter's series out of everything Prometheus stores, e.g.
    // 'job="consumption-exporter"'. Empty (the default): the series are told apart by their
    // names alone, which start with consumption_.
    consumptionExporterSelector: '',
    // The allocation dimension the showback rules and panels split spend by (a key of the
    // exporter's `allocation:`), and its default value, whose share is "unallocated".
    showbackDimension: 'team',
    showbackUnallocated: 'unallocated',
    // ConsumptionSpendAnomaly: a day's usage above both this many times the median of the
    // 28 days before it and the mean plus this many standard deviations, once this many of
    // those days have data.
    anomalyMedianFactor: 1.5,
    anomalyDeviations: 3,
    anomalyMinDays: 14,
    // ConsumptionSeatsIdle: idle seats over this share of the assigned ones, for a day.
    idleSeatsShare: 0.2,
  },
}
