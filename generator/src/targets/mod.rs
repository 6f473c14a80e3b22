//! One module per output target; `render_all` assembles the whole `generated/` tree.

mod schema;

pub use schema::text as schema_text;

use spec::LoadedSpec;

use crate::output::Tree;
use crate::GenerateError;

pub fn render_all(loaded: &LoadedSpec) -> Result<Tree, GenerateError> {
    let env = crate::render::environment().map_err(|source| GenerateError::Render {
        target: "templates",
        source,
    })?;
    let _ = &env;
    let mut tree = Tree::default();
    schema::render(&mut tree);
    let _ = loaded;
    Ok(tree)
}
