import { timingSafeEqual } from 'node:crypto'

export interface DemoUser {
  username: string
  password: string
  name: string
  email: string
  sub: string
}

/** The development issuer's demo accounts. Passwords equal the usernames; `sub` never changes. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  {
    username: 'alice',
    password: 'alice',
    name: 'Alice Liddell',
    email: 'alice@example.com',
    sub: '2f9b6f0e-6c1d-4a57-9d8e-a11ce0000001'
  },
  {
    username: 'bob',
    password: 'bob',
    name: 'Bob Builder',
    email: 'bob@example.com',
    sub: '7c3e2d41-0b5a-4f38-8e6b-b0b000000002'
  }
])

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/** The user whose username and password both match, or undefined. */
export function authenticate(username: string, password: string): DemoUser | undefined {
  const user = DEMO_USERS.find((candidate) => candidate.username === username.trim().toLowerCase())
  if (user === undefined || !sameString(user.password, password)) return undefined
  return user
}

export function findUserBySub(sub: string): DemoUser | undefined {
  return DEMO_USERS.find((user) => user.sub === sub)
}
