//! GraphiQL, served from assets embedded at build time (no CDN: it works offline).
//!
//! The page opens with the headers editor visible and an `Authorization` header to fill in;
//! `fieldguard seed` prints a token for every demo user.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

macro_rules! asset {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/", $name)).as_slice()
    };
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Fieldguard · GraphiQL</title>
  <link rel="stylesheet" href="/graphiql/graphiql.css">
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }
    .missing { font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 4em auto; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/react.js"></script>
  <script src="/graphiql/react-dom.js"></script>
  <script src="/graphiql/graphiql.js"></script>
  <script>
    const root = document.getElementById('graphiql');
    if (window.FIELDGUARD_GRAPHIQL_MISSING || typeof GraphiQL === 'undefined') {
      root.className = 'missing';
      root.innerHTML = '<h1>GraphiQL is not bundled in this build</h1>' +
        '<p>npm was not available when the gateway was built. Install Node.js and npm, rebuild, ' +
        'and this page will serve GraphiQL. The API itself works: <code>POST /graphql</code>.</p>';
    } else {
      const fetcher = GraphiQL.createFetcher({ url: '/graphql' });
      const defaultQuery = `# Paste a token from \`fieldguard seed\` into the Headers tab below, then run this.
query Explore {
  me { displayName email }
  myTeams { id name portalRole acting }
  team {
    name
    advancedAccessManagement
    orchestrators { nodes { name workflows { totalCount nodes { name schedule outputVariables { name value } } } } }
  }
  policy { name hash loadedAt source }
}
`;
      ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
        fetcher,
        defaultQuery,
        defaultHeaders: JSON.stringify({ Authorization: 'Bearer <paste a token>' }, null, 2),
        defaultEditorToolsVisibility: 'headers',
        shouldPersistHeaders: true,
        isHeadersEditorEnabled: true,
      }));
    }
  </script>
</body>
</html>
"#;

/// `GET /graphql`: the GraphiQL page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /graphiql/{asset}`: one of the embedded assets.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "react.js" => (asset!("react.js"), "text/javascript; charset=utf-8"),
        "react-dom.js" => (asset!("react-dom.js"), "text/javascript; charset=utf-8"),
        "graphiql.js" => (asset!("graphiql.js"), "text/javascript; charset=utf-8"),
        "graphiql.css" => (asset!("graphiql.css"), "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body)
        .into_response()
}
