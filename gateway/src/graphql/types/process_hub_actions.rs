//! The Process Hub area's mutations (domain §5): processes and who may launch them, launching,
//! job control, completing tasks, forms; and the input types they use.
//!
//! Each resolver follows the pattern of [`super::mutation`]: parse the ids, begin the write,
//! call the service in `store::write`, commit, build the answer through the read types.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};

use super::mutation::{begin, done, id_of, ids_of, maybe};
use super::{Form, Job, Process, Task};
use crate::error::ResultExt;
use crate::store::write::process_hub::{self, FieldValue, FormChange, ProcessChange};

/// A process's name and description (and the form its tasks collect); fields left out stay as
/// they are.
#[derive(InputObject, Default)]
pub struct ProcessInput {
    /// Its name (needed to create one).
    pub name: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// The form its tasks collect (a `Form` id); `null` clears it.
    pub form_id: MaybeUndefined<ID>,
}

impl ProcessInput {
    fn change(self) -> Result<ProcessChange> {
        let form_id = match maybe(self.form_id) {
            Some(Some(id)) => Some(Some(id_of(&id, "Form", "formId")?)),
            Some(None) => Some(None),
            None => None,
        };
        Ok(ProcessChange { name: self.name, description: self.description, form_id })
    }
}

/// A form's name and fields; fields left out stay as they are.
#[derive(InputObject, Default)]
pub struct FormInput {
    /// Its name (needed to create one).
    pub name: Option<String>,
    /// The names of its fields, in order (the whole list).
    pub field_names: Option<Vec<String>>,
}

impl From<FormInput> for FormChange {
    fn from(input: FormInput) -> Self {
        Self { name: input.name, field_names: input.field_names }
    }
}

/// One field of a task's form, filled in.
#[derive(InputObject)]
pub struct FieldValueInput {
    /// The field's name, as the form has it.
    pub name: String,
    /// What to enter.
    pub value: String,
}

/// The mutations of the Process Hub area.
#[derive(Default)]
pub struct ProcessHubMutations;

#[Object]
impl ProcessHubMutations {
    /// Creates a process (ADMINISTRATOR, PROCESS_MANAGER). With Advanced Access Management on,
    /// it joins your security groups.
    async fn create_process(&self, ctx: &Context<'_>, input: ProcessInput) -> Result<Process> {
        let change = input.change()?;
        let w = begin(ctx).await?;
        let row = process_hub::create_process(&w, change).await.gql()?;
        done(ctx, w, row).await
    }

    /// Changes a process (an ADMINISTRATOR any, a PROCESS_MANAGER those they created).
    async fn update_process(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProcessInput,
    ) -> Result<Process> {
        let id = id_of(&id, "Process", "id")?;
        let change = input.change()?;
        let w = begin(ctx).await?;
        let row = process_hub::update_process(&w, id, change).await.gql()?;
        done(ctx, w, row).await
    }

    /// Sets who may launch a process (the whole list of users).
    async fn set_launch_permissions(
        &self,
        ctx: &Context<'_>,
        process_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Process> {
        let id = id_of(&process_id, "Process", "processId")?;
        let users = ids_of(&user_ids, "User", "userIds")?;
        let w = begin(ctx).await?;
        let row = process_hub::set_launch_permissions(&w, id, &users).await.gql()?;
        done(ctx, w, row).await
    }

    /// Launches a process: a running job, with a first task for you.
    async fn launch_process(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let id = id_of(&id, "Process", "id")?;
        let w = begin(ctx).await?;
        let row = process_hub::launch(&w, id).await.gql()?;
        done(ctx, w, row).await
    }

    /// Cancels a queued or running job (ADMINISTRATOR).
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let id = id_of(&id, "Job", "id")?;
        let w = begin(ctx).await?;
        let row = process_hub::cancel_job(&w, id).await.gql()?;
        done(ctx, w, row).await
    }

    /// Retries a failed or cancelled job as a new job (ADMINISTRATOR); answers the new job.
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let id = id_of(&id, "Job", "id")?;
        let w = begin(ctx).await?;
        let row = process_hub::retry_job(&w, id).await.gql()?;
        done(ctx, w, row).await
    }

    /// Completes a task assigned to you (an ADMINISTRATOR any) with a value for every field
    /// of its form.
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        values: Vec<FieldValueInput>,
    ) -> Result<Task> {
        let id = id_of(&id, "Task", "id")?;
        let values =
            values.into_iter().map(|v| FieldValue { name: v.name, value: v.value }).collect();
        let w = begin(ctx).await?;
        let row = process_hub::complete_task(&w, id, values).await.gql()?;
        done(ctx, w, row).await
    }

    /// Creates a form (ADMINISTRATOR, PROCESS_MANAGER).
    async fn create_form(&self, ctx: &Context<'_>, input: FormInput) -> Result<Form> {
        let w = begin(ctx).await?;
        let row = process_hub::create_form(&w, input.into()).await.gql()?;
        done(ctx, w, row).await
    }

    /// Renames a form or changes its fields (ADMINISTRATOR, PROCESS_MANAGER).
    async fn update_form(&self, ctx: &Context<'_>, id: ID, input: FormInput) -> Result<Form> {
        let id = id_of(&id, "Form", "id")?;
        let w = begin(ctx).await?;
        let row = process_hub::update_form(&w, id, input.into()).await.gql()?;
        done(ctx, w, row).await
    }
}
