"""The GraphQL documents the App sends: one for the pull request, one for file texts and its comments."""

from __future__ import annotations

# Fields of one commit: identity, parents, message and GitHub's signature object with the signed payload.
COMMIT_FIELDS = """
fragment CommitFields on Commit {
  oid
  message
  author { name email user { login } }
  committer { name email user { login } }
  parents(first: 3) { nodes { oid } }
  signature {
    __typename
    isValid
    state
    signature
    payload
    email
    wasSignedByGitHub
    signer { login }
    ... on GpgSignature { keyId }
  }
}
"""

# A directory listing three levels deep (the rules files of Falco repositories live at most two deep).
TREE_FIELDS = """
fragment TreeFields on Tree {
  entries {
    path
    type
    object {
      ... on Tree {
        entries {
          path
          type
          object {
            ... on Tree { entries { path type } }
          }
        }
      }
    }
  }
}
"""

# Round trip 1: the pull request, its commits, files, closing issues, the head's statuses and check runs,
# the repository's policy file on the default branch, and the head's file tree.
PULL_REQUEST = (
    """
query PullRequest($owner: String!, $name: String!, $number: Int!, $policyPath: String!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    nameWithOwner
    isFork
    parent { nameWithOwner }
    defaultBranchRef { name }
    policy: object(expression: $policyPath) { ... on Blob { text isTruncated } }
    pullRequest(number: $number) {
      id
      number
      title
      body
      state
      isDraft
      author { login }
      baseRefName
      baseRefOid
      headRefName
      headRefOid
      changedFiles
      closingIssuesReferences(first: 20) {
        nodes { number state title repository { nameWithOwner } labels(first: 20) { nodes { name } } }
      }
      files(first: 100) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { path changeType }
      }
      commits(first: 100) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { commit { ...CommitFields } }
      }
      head: commits(last: 1) {
        nodes {
          commit {
            oid
            tree { ...TreeFields }
            status { contexts { context state } }
            checkSuites(first: 20) {
              nodes {
                app { databaseId slug }
                checkRuns(first: 20) { nodes { databaseId name status conclusion externalId } }
              }
            }
          }
        }
      }
    }
  }
}
"""
    + COMMIT_FIELDS
    + TREE_FIELDS
)

# Further pages of the commits connection (only when the pull request has more than 100 commits).
MORE_COMMITS = (
    """
query MoreCommits($owner: String!, $name: String!, $number: Int!, $after: String!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      commits(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { commit { ...CommitFields } }
      }
    }
  }
}
"""
    + COMMIT_FIELDS
)

# Further pages of the files connection (only when the pull request changes more than 100 files).
MORE_FILES = """
query MoreFiles($owner: String!, $name: String!, $number: Int!, $after: String!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      files(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { path changeType }
      }
    }
  }
}
"""

# Round trip 2 is built per review (texts_query): one aliased `object` per blob, one aliased
# `issueOrPullRequest` per referenced issue GitHub did not resolve, the head again (to notice a push
# that happened meanwhile) and the last 100 comments (to find the bot's own).
BLOB = '  {alias}: object(expression: "{expression}") {{ ... on Blob {{ text isTruncated isBinary byteSize }} }}\n'
ISSUE = (
    '  {alias}: repository(owner: "{owner}", name: "{name}") {{ issueOrPullRequest(number: {number}) {{ __typename'
    " ... on Issue {{ number state title labels(first: 20) {{ nodes {{ name }} }} }}"
    " ... on PullRequest {{ number prState: state title }} }} }}\n"
)
TEXTS = """query Texts($owner: String!, $name: String!, $number: Int!) {{
  repository(owner: $owner, name: $name) {{
{blobs}    pullRequest(number: $number) {{
      headRefOid
      state
      comments(last: 100) {{
        nodes {{ id databaseId body isMinimized viewerDidAuthor author {{ login }} }}
      }}
    }}
  }}
{issues}}}
"""


def _quote(text: str) -> str:
    """A GraphQL string literal's content."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def texts_query(blobs: dict[str, str], issues: dict[str, tuple[str, str, int]]) -> str:
    """Round trip 2: `blobs` maps alias -> `<oid>:<path>`, `issues` maps alias -> (owner, name, number)."""
    blob_text = "".join("  " + BLOB.format(alias=a, expression=_quote(e)) for a, e in blobs.items())
    issue_text = "".join(
        ISSUE.format(alias=a, owner=_quote(o), name=_quote(n), number=int(num)) for a, (o, n, num) in issues.items()
    )
    return TEXTS.format(blobs=blob_text, issues=issue_text)


MINIMIZE = """
mutation Minimize($id: ID!) {
  minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) { minimizedComment { isMinimized } }
}
"""
