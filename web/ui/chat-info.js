// (being written) The chat's details: members, adding, removing, leaving, renaming.
export function openChatInfo() {}
export function wireChatInfo() {}
