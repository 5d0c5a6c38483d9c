//! HAL paging: `_links` first/prev/self/next/last that keep the request's filters, and the
//! `page`, `page_size`, `total_items`, `total_pages` members.

use serde_json::{json, Map, Value};

/// Pages are 1-based, as the seed's `page` member is; the seed's sample links (which start
/// at `page=0`) contradict it, and a client following links must land on the pages it was
/// told about.
pub fn page(
    embedded: &str,
    items: Vec<Value>,
    base_href: &str,
    kept: &[(String, String)],
    page: u64,
    page_size: u64,
    total: u64,
) -> Value {
    let pages = total.div_ceil(page_size.max(1));
    let href = |p: u64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in kept {
            q.append_pair(k, v);
        }
        q.append_pair("page", &p.to_string());
        q.append_pair("page_size", &page_size.to_string());
        json!({ "href": format!("{base_href}?{}", q.finish()) })
    };
    let mut links = Map::new();
    links.insert("first".into(), href(1));
    if page > 1 {
        links.insert("prev".into(), href((page - 1).min(pages.max(1))));
    }
    links.insert("self".into(), href(page));
    if page < pages {
        links.insert("next".into(), href(page + 1));
    }
    if pages > 0 {
        links.insert("last".into(), href(pages));
    }
    json!({
        "_embedded": { embedded: items },
        "_links": links,
        "page": page,
        "page_size": page_size,
        "total_items": total,
        "total_pages": pages,
    })
}
