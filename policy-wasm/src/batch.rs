//! One batch of questions, asked by name or by number: its objects, and what the batch works
//! out once rather than once per question (the visibility of each type, whether each object
//! is seen).

use crate::{
    Object, PortalRole, Reason, Tables, Visibility, access::Access, actions, fields, visibility,
};

/// The objects of one batch, for one principal.
pub(crate) struct Batch<'b> {
    tables: Tables<'b>,
    access: &'b Access<'b>,
    objects: Vec<Asked<'b>>,
    /// The visibility of each type met so far (a batch names a few types).
    visibilities: Vec<(&'b str, Visibility)>,
}

/// An object of the batch, and whether the principal sees it once that is known.
struct Asked<'b> {
    object: Object<'b>,
    /// Pagination plumbing (`…Connection`, `…Edge`, `PageInfo`): readable wherever the list was.
    plumbing: bool,
    seen: Option<bool>,
}

impl<'b> Batch<'b> {
    /// A batch about `objects`, by their type names.
    pub(crate) fn new(
        tables: &Tables<'b>,
        access: &'b Access<'b>,
        objects: impl Iterator<Item = Object<'b>>,
    ) -> Self {
        Self::with(
            tables,
            access,
            objects.map(|object| (object, fields::is_plumbing(object.type_name))),
        )
    }

    /// A batch about objects already known to be plumbing or not.
    pub(crate) fn with(
        tables: &Tables<'b>,
        access: &'b Access<'b>,
        objects: impl Iterator<Item = (Object<'b>, bool)>,
    ) -> Self {
        Self {
            tables: *tables,
            access,
            objects: objects
                .map(|(object, plumbing)| Asked { object, plumbing, seen: None })
                .collect(),
            visibilities: Vec::new(),
        }
    }

    /// Whether the principal sees object `index`, worked out once.
    fn sees(&mut self, index: usize) -> bool {
        let Some(asked) = self.objects.get(index) else {
            return false;
        };
        if let Some(seen) = asked.seen {
            return seen;
        }
        let object = asked.object;
        let at = match self.visibilities.iter().position(|(name, _)| *name == object.type_name) {
            Some(at) => at,
            None => {
                let visibility = visibility::of(&self.tables, self.access, object.type_name);
                self.visibilities.push((object.type_name, visibility));
                self.visibilities.len() - 1
            }
        };
        let seen = self.visibilities.get(at).is_some_and(|(_, v)| visibility::admits(v, &object));
        if let Some(asked) = self.objects.get_mut(index) {
            asked.seen = Some(seen);
        }
        seen
    }

    /// May the principal read a field of object `resource`? `rule` gives the field's rule
    /// for the object's type (`None`: no row names it).
    pub(crate) fn read(
        &mut self,
        resource: u32,
        rule: impl FnOnce(&str) -> Option<fields::Rule>,
    ) -> Result<(), Reason> {
        let index = resource as usize;
        let Some(asked) = self.objects.get(index) else {
            return Err(Reason::UnknownResource);
        };
        if asked.plumbing {
            return Ok(());
        }
        let object = asked.object;
        if !self.sees(index) {
            return Err(Reason::NotVisible);
        }
        let rule = rule(object.type_name).ok_or(Reason::NoFieldRule)?;
        fields::allows(self.access, &object, rule)
    }

    /// May the principal perform an action ruled by `rule` (`None`: no row names it) on
    /// object `resource`?
    pub(crate) fn perform(
        &mut self,
        resource: u32,
        rule: Option<actions::Rule>,
        current_role: Option<PortalRole>,
        requested_role: Option<PortalRole>,
    ) -> Result<(), Reason> {
        let index = resource as usize;
        let Some(asked) = self.objects.get(index) else {
            return Err(Reason::UnknownResource);
        };
        let object = asked.object;
        let rule = rule.ok_or(Reason::NoActionRule)?;
        let access = self.access;
        actions::allows(access, &object, rule, current_role, requested_role, || self.sees(index))
    }
}
