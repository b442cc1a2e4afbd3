mod cli;
mod config;
mod exposition;
mod helpers;
mod qlik;
