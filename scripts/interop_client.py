"""A client written against proto/ only, with Python's grpcio: proves the
service works for clients the team did not write, in plaintext and over
TLS with an access token. Run by interop.sh."""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from google.rpc import error_details_pb2

from copydesk.v1 import copydesk_pb2 as pb
from copydesk.v1 import copydesk_pb2_grpc as rpc

LEDE = ("Russian and U.S. diplomats ended more than seven hours of talks on European security "
        "in Geneva on Monday without a breakthrough, with Moscow insisting that NATO rule out "
        "any further expansion to the east.")
MORE = [
    "Deputy Foreign Minister Sergei Ryabkov said Russia needed legally binding guarantees that "
    "Ukraine and Georgia would never join the alliance.",
    "U.S. Deputy Secretary of State Wendy Sherman said Washington had pushed back on proposals "
    "that were simply non-starters.",
    "The talks opened a week of diplomacy that moves to Brussels on Wednesday and to Vienna on Thursday.",
    "Western governments accuse Russia of massing troops near the Ukrainian border.",
]
FULL = "GENEVA (Reuters) - " + LEDE + "\n\n" + "\n\n".join(MORE)
TRIMMED = "GENEVA, Jan 10 (AP) \u2014 " + LEDE + "\n\n" + "\n\n".join(MORE[:3])


def check(condition, what):
    if not condition:
        raise SystemExit(f"interop_client: {what}")


def open_channel(address, ca, token):
    """Plaintext, or TLS trusting `ca` with `token` sent as a bearer token
    on every call (grpcio's own call credentials)."""
    if ca is None:
        return grpc.insecure_channel(address)
    with open(ca, "rb") as pem:
        credentials = grpc.ssl_channel_credentials(root_certificates=pem.read())
    if token is not None:
        credentials = grpc.composite_channel_credentials(
            credentials, grpc.access_token_call_credentials(token))
    return grpc.secure_channel(address, credentials)


def main(address, ca=None, token=None):
    channel = open_channel(address, ca, token)
    if token is not None:
        # The same TLS without the token is refused.
        anonymous = rpc.SummaryServiceStub(open_channel(address, ca, None))
        try:
            anonymous.Summarize(pb.SummarizeRequest(story=pb.Story(body=FULL)))
            check(False, "a call without a token was served")
        except grpc.RpcError as error:
            check(error.code() == grpc.StatusCode.UNAUTHENTICATED, f"code {error.code()}")
    summaries = rpc.SummaryServiceStub(channel)
    dedup = rpc.DedupServiceStub(channel)

    answer = summaries.Summarize(pb.SummarizeRequest(story=pb.Story(body=FULL), max_words=60))
    check(0 < answer.summary_words <= 60, f"word budget: {answer}")
    body = FULL.encode("utf-8")
    for sentence in answer.sentences:
        check(body[sentence.start:sentence.end].decode("utf-8") == sentence.text, "byte offsets")

    try:
        summaries.Summarize(pb.SummarizeRequest(story=pb.Story(body="x"), max_sentences=0))
        check(False, "a zero budget was accepted")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"code {error.code()}")
        status = rpc_status.from_call(error)
        fields = []
        for detail in status.details:
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                fields += [v.field for v in bad.field_violations]
        check(fields == ["max_sentences"], f"field violations {fields}")

    full = dedup.IngestStory(pb.IngestStoryRequest(story=pb.Story(id="py-full", body=FULL)))
    trimmed = dedup.IngestStory(pb.IngestStoryRequest(story=pb.Story(id="py-trimmed", body=TRIMMED)))
    check(trimmed.cluster == full.cluster and trimmed.duplicate, f"versions fold: {trimmed}")
    check(trimmed.canonical_story == "stories/py-full", "longest version is canonical")

    requests = [
        pb.IngestStoriesRequest(story=pb.Story(id="py-s1", body=FULL)),
        pb.IngestStoriesRequest(story=pb.Story(id="", body=FULL)),
        pb.IngestStoriesRequest(story=pb.Story(id="py-s3", body="A short unrelated note about the weather.")),
    ]
    responses = list(dedup.IngestStories(iter(requests)))
    check([r.sequence for r in responses] == [0, 1, 2], "stream order")
    check(responses[1].WhichOneof("result") == "error", "bad item gets an error")
    check(responses[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0], "error code")
    check(responses[2].WhichOneof("result") == "ingested", "stream goes on after a bad item")

    cluster = dedup.GetCluster(pb.GetClusterRequest(name=full.cluster))
    check(len(cluster.members) == 3 and len(cluster.summary.sentences) == 3, f"cluster: {cluster}")
    page = dedup.ListClusters(pb.ListClustersRequest(page_size=1))
    check(len(page.clusters) == 1 and page.next_page_token, "pagination")

    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="copydesk.v1.SummaryService"))
    check(status.status == health_pb2.HealthCheckResponse.SERVING, "health")
    print("interop_client: all checks passed")


if __name__ == "__main__":
    # interop_client.py ADDRESS [CA-PEM TOKEN]
    main(*sys.argv[1:4])
