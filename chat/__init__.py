"""Talk chat (``chat-v2``): messages, long polling, read markers, mentions, reactions and the
system messages that conversation and participant changes post."""
