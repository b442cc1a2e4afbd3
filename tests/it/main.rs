mod cli;
mod config;
mod dynatrace;
mod exposition;
mod helpers;
mod powerplatform;
mod qlik;
mod uipath;
