//! A bound on distinct `http.route` values per service. Templating (`/users/{id}`) keeps most
//! services to a handful of routes, but a path that embeds free text or an id of a shape the
//! templating does not know would otherwise make a new metric series per request.

// looked up for every HTTP exchange: std's SipHash showed in the receiver's profile
use foldhash::{HashMap, HashMapExt, HashSet};

use crate::{Semantics, Value};

/// Routes per service past which new ones are not kept.
pub const DEFAULT_MAX_ROUTES_PER_SERVICE: usize = 1000;
/// Services tracked; routes of services beyond them are not kept either.
const MAX_SERVICES: usize = 4096;

pub struct RouteLimit {
    max_per_service: usize,
    routes: HashMap<String, HashSet<String>>,
    /// Spans and exchanges whose route was dropped because its service had too many.
    pub overflowed: u64,
}

impl RouteLimit {
    pub fn new(max_per_service: usize) -> Self {
        RouteLimit {
            max_per_service,
            routes: HashMap::new(),
            overflowed: 0,
        }
    }

    /// Keeps `semantics`' route when `service` already has it or still has room; otherwise
    /// removes it and names the span after the method alone, as the HTTP conventions do when no
    /// route is known.
    pub fn admit(&mut self, service: &str, semantics: &mut Semantics) {
        let Some(Value::Str(route)) = semantics.get("http.route") else {
            return;
        };
        let known = self.routes.get(service);
        if known.is_some_and(|routes| routes.contains(route.as_ref())) {
            return;
        }
        let room = match known {
            Some(routes) => routes.len() < self.max_per_service,
            None => self.routes.len() < MAX_SERVICES,
        };
        if room {
            let route = route.to_string();
            self.routes
                .entry(service.to_string())
                .or_default()
                .insert(route);
            return;
        }
        self.overflowed += 1;
        semantics.attributes.retain(|(key, _)| *key != "http.route");
        if let Some(Value::Str(method)) = semantics.get("http.request.method") {
            semantics.name = method.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, Protocol, parse};

    fn get(path: &str) -> Semantics {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        parse(Protocol::Http, request.as_bytes(), 200, &Options::default()).unwrap()
    }

    #[test]
    fn routes_past_the_limit_lose_their_route_and_are_counted() {
        let mut limit = RouteLimit::new(2);
        for path in ["/a", "/b", "/a", "/users/42"] {
            let mut semantics = get(path);
            limit.admit("shop", &mut semantics);
            if path == "/users/42" {
                assert_eq!(semantics.name, "GET");
                assert_eq!(semantics.get("http.route"), None);
                // the path itself is not a metric attribute and stays on the span
                assert_eq!(
                    semantics.get("url.path"),
                    Some(&Value::Str("/users/42".into()))
                );
            } else {
                assert_eq!(semantics.name, format!("GET {path}"));
            }
        }
        assert_eq!(limit.overflowed, 1);
        // another service has a budget of its own
        let mut semantics = get("/users/42");
        limit.admit("cart", &mut semantics);
        assert_eq!(semantics.name, "GET /users/{id}");
        assert_eq!(limit.overflowed, 1);
    }
}
