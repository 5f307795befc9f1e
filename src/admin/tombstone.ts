// A deleted account keeps its row, so that the messages, chats and events that name it still hold.
// Its name has a space and a #, which no username may have (src/users/names.ts and the request
// schemas refuse both): nobody can log in to it, register it, or be taken for it. Its key and
// skeleton are the same text, so that the name it had is free again. `users.deleted_at` says it is one.
const PREFIX = 'deleted user #';

/** The name, key and skeleton of the deleted account `id`. */
export const tombstoneName = (id: number) => `${PREFIX}${id}`;
