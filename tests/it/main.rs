mod cli;
mod config;
mod exposition;
mod helpers;
mod powerplatform;
mod qlik;
mod uipath;
