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
  },
}
