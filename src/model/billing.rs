//! Who bills a source's usage and how a FinOps tool should file it: what a source declares so
//! that a vendor-blind export (FOCUS) can name the provider, the account, the sub-account and
//! the kind of service without knowing the vendor.

/// What a FOCUS dataset says of every charge of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billing {
    /// The company that provides and bills the service (FOCUS `ProviderName`, `PublisherName`
    /// and `InvoiceIssuerName`).
    pub provider: &'static str,
    /// The vendor's identifier of the account the source reads (organisation, tenant,
    /// account): FOCUS `BillingAccountId`.
    pub account_id: String,
    /// The usage label that holds the sub-account (tenant, environment) a charge belongs to,
    /// when the vendor has one and the source keeps it as a label.
    pub sub_account_label: Option<&'static str>,
    /// One of FOCUS 1.2's allowed `ServiceCategory` values.
    pub service_category: &'static str,
    /// One of FOCUS 1.2's allowed `ServiceSubcategory` values, under `service_category`.
    pub service_subcategory: &'static str,
    /// Whether the vendor's units are a virtual currency (credits, units of capacity) that
    /// its prices are quoted in: FOCUS's `PricingCurrency*` columns then count in them.
    pub virtual_currency: bool,
}
