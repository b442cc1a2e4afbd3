//! What `/metrics` serves, made once per change and never per scrape: [`render`] merges the
//! sources' parts, in [`blocks`] of consecutive sources, into the text exposition, [`text`] writes families in the text format,
//! [`families`] makes the exporter's own (health, process, exporter, the per-scrape block),
//! [`openmetrics`] the OpenMetrics form, [`gzip`] the compressed form a scrape finishes, and
//! [`process`] reads the process's figures.

pub mod blocks;
pub mod families;
pub mod gzip;
pub mod openmetrics;
pub mod process;
pub mod render;
pub mod text;
