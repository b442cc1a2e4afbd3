//! The endpoints of a vendor's API as access to them is granted: what each needs of a
//! credential, which a refused request's error names.

/// One endpoint of a vendor's API as access to it is granted: its name (as `check --online`
/// prints it) and what a credential needs to be answered there (the scope, role, permission or
/// consent, in the vendor's words), which a 401 or 403 from it names. Found by a fragment of the
/// request's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub name: &'static str,
    pub path_contains: &'static str,
    pub needs: &'static str,
}

/// The name every vendor gives its token endpoint in its [`Endpoint`] table.
pub const TOKEN_ENDPOINT: &str = "token";

/// The endpoint of `endpoints` a request path belongs to: the first whose fragment it contains.
pub fn endpoint_of(endpoints: &'static [Endpoint], path: &str) -> Option<&'static Endpoint> {
    endpoints.iter().find(|e| path.contains(e.path_contains))
}

/// The endpoint name of a request no table entry covers (a vendor's link to another path).
pub const OTHER_ENDPOINT: &str = "other";

/// The name a request to `path` is counted under: its endpoint's, or [`OTHER_ENDPOINT`].
pub fn endpoint_name(endpoints: &'static [Endpoint], path: &str) -> &'static str {
    endpoint_of(endpoints, path).map_or(OTHER_ENDPOINT, |endpoint| endpoint.name)
}
