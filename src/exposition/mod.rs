//! What `/metrics` serves, made once per change and never per scrape: [`render`] writes the
//! text exposition from the sources' states, [`openmetrics`] its OpenMetrics form, [`gzip`] the
//! compressed form a scrape finishes, [`process`] the process's own families.

pub mod gzip;
pub mod openmetrics;
pub mod process;
pub mod render;
